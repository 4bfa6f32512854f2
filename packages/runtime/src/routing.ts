import type { Receive, Scope, Send } from "./application.js";
import { type Application, type ApplicationLike, type HttpHandler, toApplication } from "./application.js";
import { ConsumerError, RouteNotFound } from "./errors.js";
import { compilePath, compileRegExp, type RoutePattern } from "./route-pattern.js";

/** Marks applications that route on the rest of the path, so a route leading to one matches a prefix. */
const PATH_ROUTING = Symbol("channel-layers.pathRouting");

/** One entry of a URLRouter, made by path() or re_path(). */
export interface Route {
  readonly kind: "path" | "regexp";
  readonly route: string | RegExp;
  readonly application: Application;
}

/** Django's path(): "ws/chat/<str:room_name>/" (a RegExp works too, as re_path). */
export function path(route: string | RegExp, application: ApplicationLike): Route {
  return { kind: typeof route === "string" ? "path" : "regexp", route, application: toApplication(application) };
}

/** Django's re_path(): a regular expression with named groups, "(?P<name>...)" or "(?<name>...)". */
export function re_path(route: string | RegExp, application: ApplicationLike): Route {
  return { kind: "regexp", route, application: toApplication(application) };
}

function isPathRouting(application: Application): boolean {
  return (application as { [PATH_ROUTING]?: boolean })[PATH_ROUTING] === true;
}

/** Rejects the handshake with an HTTP response (ASGI's websocket denial response). */
export async function denyWithResponse(receive: Receive, send: Send, status: number, body: string): Promise<void> {
  await receive();
  await send({
    type: "websocket.http.response.start",
    status,
    headers: [["content-type", "text/plain; charset=utf-8"]],
  });
  await send({ type: "websocket.http.response.body", body });
}

/**
 * Channels' URLRouter: the first route matching the path runs, with what it matched added to
 * `scope.url_route` (args and kwargs accumulate through nested routers). When nothing matches,
 * the outermost router rejects the handshake with 404 and a nested one lets its parent go on.
 */
export function URLRouter(routes: readonly Route[]): Application {
  const compiled: { pattern: RoutePattern; application: Application }[] = routes.map((route) => {
    const endpoint = !isPathRouting(route.application);
    const pattern =
      route.kind === "path" && typeof route.route === "string"
        ? compilePath(route.route, endpoint)
        : compileRegExp(route.route, endpoint);
    return { pattern, application: route.application };
  });
  const router = async (scope: Scope, receive: Receive, send: Send): Promise<void> => {
    const nested = scope.path_remaining !== undefined;
    // Django matches paths without their leading slash.
    const remaining = (scope.path_remaining ?? scope.path).replace(/^\/+/, "");
    for (const { pattern, application } of compiled) {
      const found = pattern.match(remaining);
      if (found === undefined) continue;
      const outer = scope.url_route ?? { args: [], kwargs: {} };
      try {
        return await application(
          {
            ...scope,
            path_remaining: found.rest,
            url_route: { args: [...outer.args, ...found.args], kwargs: { ...outer.kwargs, ...found.kwargs } },
          },
          receive,
          send,
        );
      } catch (error) {
        if (!(error instanceof RouteNotFound)) throw error;
      }
    }
    if (nested) throw new RouteNotFound(remaining);
    await denyWithResponse(receive, send, 404, `No route found for path ${JSON.stringify(scope.path)}`);
  };
  return Object.assign(router, { [PATH_ROUTING]: true });
}

/** What ProtocolTypeRouter dispatches: the HTTP side is a Node request listener, the rest applications. */
export interface ProtocolTypeMapping {
  /** Plain HTTP requests (Express, Fastify's handler, `(req, res) => ...`); `serve()` hands them here. */
  http?: HttpHandler;
  /** WebSocket connections. */
  websocket?: ApplicationLike;
  /** Worker consumers (scope type "channel"), usually a ChannelNameRouter. */
  channel?: ApplicationLike;
}

/**
 * Channels' ProtocolTypeRouter: WebSocket connections (and worker channels) go to their
 * application; `http` is kept as the application's `http` handler for `serve()`.
 */
export function ProtocolTypeRouter(mapping: ProtocolTypeMapping): Application {
  const applications = new Map<string, Application>();
  if (mapping.websocket !== undefined) applications.set("websocket", toApplication(mapping.websocket));
  if (mapping.channel !== undefined) applications.set("channel", toApplication(mapping.channel));
  const router: Application = async (scope, receive, send) => {
    const application = applications.get(scope.type);
    if (application === undefined) {
      throw new ConsumerError(
        "NO_APPLICATION",
        `No application configured for scope type ${JSON.stringify(scope.type)}`,
      );
    }
    return application(scope, receive, send);
  };
  if (mapping.http !== undefined) router.http = mapping.http;
  return router;
}

/** An application that routes worker scopes by channel name; `channels` lists the names. */
export type ChannelNameRouterApplication = Application & { readonly channels: readonly string[] };

/** Channels' ChannelNameRouter: a worker's scope goes to the application for its `channel`. */
export function ChannelNameRouter(mapping: Record<string, ApplicationLike>): ChannelNameRouterApplication {
  const applications = new Map(Object.entries(mapping).map(([name, target]) => [name, toApplication(target)]));
  const router = async (scope: Scope, receive: Receive, send: Send): Promise<void> => {
    const application = scope.channel === undefined ? undefined : applications.get(scope.channel);
    if (application === undefined) {
      throw new ConsumerError(
        "NO_APPLICATION",
        `No application configured for channel ${JSON.stringify(scope.channel)}: add it to the ChannelNameRouter`,
      );
    }
    return application(scope, receive, send);
  };
  return Object.assign(router, { channels: [...applications.keys()] });
}
