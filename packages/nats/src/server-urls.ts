import { InvalidOptions } from "@channel-layers/core";
import { redactUrl } from "@channel-layers/core/backend";

/** The credentials NATS URLs can carry: `user:password@` or a lone `token@`. */
export interface UrlCredentials {
  user?: string;
  pass?: string;
  token?: string;
}

const SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//;

function decoded(part: string, url: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new InvalidOptions(`${redactUrl(url)} has a badly percent-encoded user or password`);
  }
}

/** Splits one server URL into the URL without its userinfo and the credentials that were in it. */
function splitUrl(url: string): { server: string; credentials: UrlCredentials } {
  const scheme = SCHEME.exec(url)?.[0] ?? "";
  const rest = url.slice(scheme.length);
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd === -1 ? rest : rest.slice(0, authorityEnd);
  // As WHATWG URLs do: the last `@` of the authority ends the userinfo, so a password may hold `@`.
  const at = authority.lastIndexOf("@");
  if (at === -1) return { server: url, credentials: {} };
  const userinfo = authority.slice(0, at);
  const server = scheme + rest.slice(at + 1);
  const colon = userinfo.indexOf(":");
  if (colon === -1) return { server, credentials: { token: decoded(userinfo, url) } };
  return {
    server,
    credentials: { user: decoded(userinfo.slice(0, colon), url), pass: decoded(userinfo.slice(colon + 1), url) },
  };
}

/**
 * The server URLs without credentials, and the credentials they held, for connect options:
 * nats.js 3 ignores `user:pass@` and `token@` in a URL. Every URL that has credentials must have
 * the same ones (nats.js uses one set for every server).
 */
export function serverCredentials(servers: string | readonly string[]): {
  servers: string[];
  credentials: UrlCredentials;
} {
  const urls = typeof servers === "string" ? [servers] : [...servers];
  if (urls.length === 0 || urls.some((url) => typeof url !== "string" || url === "")) {
    throw new InvalidOptions(`servers must be one or more URLs; got ${redactUrl(JSON.stringify(servers))}`);
  }
  let credentials: UrlCredentials = {};
  let from: string | undefined;
  const stripped = urls.map((url) => {
    const split = splitUrl(url);
    if (Object.keys(split.credentials).length === 0) return split.server;
    if (from !== undefined && JSON.stringify(split.credentials) !== JSON.stringify(credentials)) {
      throw new InvalidOptions(
        `${redactUrl(from)} and ${redactUrl(url)} carry different credentials; nats.js takes one set for all servers`,
      );
    }
    credentials = split.credentials;
    from = url;
    return split.server;
  });
  return { servers: stripped, credentials };
}
