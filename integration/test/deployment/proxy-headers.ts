import { type Application, type ApplicationLike, getHeader, toApplication } from "@channel-layers/runtime";

/**
 * Daphne's --proxy-headers. Behind nginx, scope.client is nginx's address: when the connection
 * comes from a trusted proxy, the client is the last X-Forwarded-For entry (the one nginx added;
 * any before it came from the client and prove nothing), and the scheme X-Forwarded-Proto's.
 */
export function ProxyHeadersMiddleware(
  inner: ApplicationLike,
  trustedProxies: readonly string[] = ["127.0.0.1", "::1"],
): Application {
  const application = toApplication(inner);
  return (scope, receive, send) => {
    const forwardedFor = getHeader(scope, "x-forwarded-for");
    if (forwardedFor === undefined || !trustedProxies.includes(scope.client?.[0] ?? "")) {
      return application(scope, receive, send);
    }
    const client = forwardedFor.split(",").at(-1)?.trim() ?? "";
    const proto = getHeader(scope, "x-forwarded-proto");
    const scheme = proto === "https" ? "wss" : proto === "http" ? "ws" : scope.scheme;
    return application({ ...scope, client: [client, 0], scheme }, receive, send);
  };
}
