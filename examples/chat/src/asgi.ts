import {
  AllowedHostsOriginValidator,
  type Application,
  AuthMiddlewareStack,
  ProtocolTypeRouter,
  type Scope,
  URLRouter,
  withHealthChecks,
} from "@channel-layers/runtime";
import { websocketUrlpatterns } from "./routing.js";
import type { Settings } from "./settings.js";
import { createHttpHandler } from "./views.js";

/** A user from a `username` cookie (the example has no accounts); null is anonymous. */
function authenticate(scope: Scope): { username: string } | null {
  const username = scope.cookies?.username;
  return username ? { username } : null;
}

/**
 * asgi.py: HTTP to the views (and /healthz, /readyz for load balancers), WebSockets through the
 * origin check and auth to the consumers.
 */
export function createApplication(settings: Pick<Settings, "allowedHosts" | "csrfTrustedOrigins">): Application {
  return ProtocolTypeRouter({
    http: withHealthChecks(createHttpHandler(settings)),
    websocket: AllowedHostsOriginValidator(
      AuthMiddlewareStack(URLRouter(websocketUrlpatterns), authenticate),
      settings.allowedHosts,
    ),
  });
}
