import type { IncomingMessage } from "node:http";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS", "TRACE"]);

function hostOf(origin: string): string | undefined {
  try {
    const url = new URL(origin);
    return url.protocol === "http:" || url.protocol === "https:" ? url.host : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Django's CSRF origin check for an unsafe method, without the token (the example has no forms):
 * why the request comes from another site, or undefined when it may go on. A browser names the
 * page a request comes from (Sec-Fetch-Site, Origin, else Referer), and that must be this host or
 * one of `trustedOrigins` (CSRF_TRUSTED_ORIGINS). A request with none of those headers is not
 * from a browser (curl, another server), so no other site can have made it.
 */
export function crossSiteRefusal(request: IncomingMessage, trustedOrigins: readonly string[]): string | undefined {
  if (SAFE_METHODS.has(request.method ?? "GET")) return undefined;
  const fetchSite = request.headers["sec-fetch-site"];
  if (fetchSite !== undefined && fetchSite !== "same-origin" && fetchSite !== "none") {
    return `The request comes from another site (Sec-Fetch-Site: ${fetchSite})`;
  }
  const origin = request.headers.origin ?? request.headers.referer;
  if (origin === undefined) return undefined;
  const host = request.headers.host;
  const trusted = trustedOrigins.some((allowed) => allowed === origin || origin.startsWith(`${allowed}/`));
  if (trusted || (host !== undefined && hostOf(origin) === host)) return undefined;
  return `${request.headers.origin === undefined ? "Referer" : "Origin"} ${origin} is not this site (${host ?? "no Host"})`;
}
