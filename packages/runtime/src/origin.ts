import { type Application, type ApplicationLike, getHeader, type Scope, toApplication } from "./application.js";
import { runtimeContext } from "./runtime-context.js";

/** Hosts AllowedHostsOriginValidator allows when given none: Django's defaults under DEBUG. */
export const DEFAULT_ALLOWED_HOSTS: readonly string[] = ["localhost", "127.0.0.1", "[::1]"];

interface ParsedOrigin {
  scheme: string;
  hostname: string;
  port: number | undefined;
}

const DEFAULT_PORTS: Record<string, number> = { http: 80, ws: 80, https: 443, wss: 443 };

function parseOrigin(value: string): ParsedOrigin | undefined {
  try {
    const url = new URL(value);
    if (url.hostname === "") return undefined;
    const scheme = url.protocol.slice(0, -1).toLowerCase();
    return {
      scheme,
      hostname: url.hostname.toLowerCase(),
      port: url.port === "" ? DEFAULT_PORTS[scheme] : Number(url.port),
    };
  } catch {
    return undefined;
  }
}

/** Django's is_same_domain: ".example.com" matches example.com and every subdomain; "*" anything. */
export function isSameDomain(host: string, pattern: string): boolean {
  if (pattern === "") return false;
  const lowered = pattern.toLowerCase();
  return (
    lowered === "*" ||
    (lowered.startsWith(".") && (host.endsWith(lowered) || host === lowered.slice(1))) ||
    host === lowered
  );
}

/** Parses an allowed-origin pattern: "https://.example.com:8443" has a scheme, "example.com" does not. */
function parsePattern(pattern: string): ParsedOrigin | { hostname: string; scheme: undefined } | undefined {
  if (/^[a-z][a-z\d+.-]*:\/\//i.test(pattern)) return parseOrigin(pattern);
  // Without a scheme only the host counts (a port in the pattern is ignored, as Django does).
  if (pattern.startsWith(".")) return { hostname: pattern.toLowerCase().replace(/:\d+$/, ""), scheme: undefined };
  const parsed = parseOrigin(`http://${pattern}`);
  return parsed && { hostname: parsed.hostname, scheme: undefined };
}

/** Whether `origin` (an Origin header value, or undefined when absent) matches one of `allowed`. */
export function isOriginAllowed(origin: string | undefined, allowed: readonly string[]): boolean {
  if (allowed.includes("*")) return true;
  if (origin === undefined) return false;
  const parsed = parseOrigin(origin);
  if (parsed === undefined) return false;
  return allowed.some((raw) => {
    const pattern = parsePattern(raw);
    if (pattern === undefined) return false;
    // A pattern with a scheme must match scheme and port as well (default ports filled in).
    if (pattern.scheme !== undefined && (pattern.scheme !== parsed.scheme || pattern.port !== parsed.port))
      return false;
    return isSameDomain(parsed.hostname, pattern.hostname);
  });
}

/**
 * Channels' OriginValidator: a WebSocket whose Origin header matches none of `allowedOrigins`
 * ("https://example.com", "https://.example.com:8443", "example.com", ".example.com", "*") is
 * rejected at the handshake with HTTP 403 before the inner application sees it. No Origin header
 * passes only with "*".
 */
export function OriginValidator(inner: ApplicationLike, allowedOrigins: readonly string[]): Application {
  const application = toApplication(inner);
  const allowed = [...allowedOrigins];
  return async (scope: Scope, receive, send) => {
    const origin = getHeader(scope, "origin");
    if (isOriginAllowed(origin, allowed)) return application(scope, receive, send);
    // Any web page can make a browser try: one line per origin per minute, however many tries.
    const shown = origin === undefined ? "(no Origin header)" : JSON.stringify(origin.slice(0, 200));
    runtimeContext(scope).rateLimitedLog.warn(`origin ${shown}`, `refused a WebSocket from origin ${shown}`, {
      path: scope.path.slice(0, 200),
    });
    // Closing before accept is a 403 at the handshake, as Channels' WebsocketDenier.
    await receive();
    await send({ type: "websocket.close" });
  };
}

/**
 * Channels' AllowedHostsOriginValidator: OriginValidator with Django's ALLOWED_HOSTS, which Node
 * has no settings for, so they are passed in (default: localhost, 127.0.0.1 and [::1]).
 */
export function AllowedHostsOriginValidator(
  inner: ApplicationLike,
  allowedHosts: readonly string[] = DEFAULT_ALLOWED_HOSTS,
): Application {
  return OriginValidator(inner, allowedHosts);
}
