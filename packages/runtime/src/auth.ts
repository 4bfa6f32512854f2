import { type Application, type ApplicationLike, getHeader, type Scope, toApplication } from "./application.js";

/** Parses a Cookie header into name -> value (values URI-decoded where they can be). */
export function parseCookies(header: string | undefined): Record<string, string> {
  const cookies: Record<string, string> = {};
  if (!header) return cookies;
  for (const part of header.split(";")) {
    const equals = part.indexOf("=");
    if (equals === -1) continue;
    const name = part.slice(0, equals).trim();
    if (name === "" || Object.hasOwn(cookies, name)) continue;
    let value = part.slice(equals + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    try {
      cookies[name] = decodeURIComponent(value);
    } catch {
      cookies[name] = value;
    }
  }
  return cookies;
}

/** Channels' CookieMiddleware: puts the request's cookies on `scope.cookies`. */
export function CookieMiddleware(inner: ApplicationLike): Application {
  const application = toApplication(inner);
  return (scope, receive, send) =>
    application({ ...scope, cookies: parseCookies(getHeader(scope, "cookie")) }, receive, send);
}

/**
 * Finds the user of a connection from its scope (`scope.cookies` when CookieMiddleware ran,
 * `scope.headers`, `scope.query_string`): a session lookup, a token check... Returning
 * undefined or null means anonymous.
 */
export type Authenticate = (scope: Scope) => unknown | Promise<unknown>;

/**
 * The auth hook (Channels' AuthMiddleware, without Django's sessions): runs `authenticate` once
 * per connection, before the consumer starts, and puts what it returns on `scope.user` (null
 * for anonymous). A consumer then refuses anonymous users by closing in connect() (HTTP 403).
 */
export function AuthMiddleware(inner: ApplicationLike, authenticate: Authenticate): Application {
  const application = toApplication(inner);
  return async (scope, receive, send) => {
    const user = (await authenticate(scope)) ?? null;
    return application({ ...scope, user }, receive, send);
  };
}

/** Channels' AuthMiddlewareStack: cookies parsed, then `authenticate` run with them on the scope. */
export function AuthMiddlewareStack(inner: ApplicationLike, authenticate: Authenticate): Application {
  return CookieMiddleware(AuthMiddleware(inner, authenticate));
}
