import { InvalidOptions } from "@channel-layers/core";
import { redactUrl } from "@channel-layers/core/backend";

/** One `host[:port]` of a URL's host list. */
export interface UrlHost {
  host: string;
  /** Undefined when the URL gave none (the backend's default port applies). */
  port: number | undefined;
}

/**
 * A settings URL taken apart: `scheme://[user[:password]@]host[:port][,host[:port]...][/path][?query]`.
 * WHATWG URL cannot read it: Sentinel and NATS URLs list several hosts in one authority.
 */
export interface SettingsUrl {
  /** Lower-cased, without "://". */
  scheme: string;
  /** Percent-decoded; undefined when the URL has no user part. */
  username: string | undefined;
  password: string | undefined;
  hosts: UrlHost[];
  /** The authority as written (credentials included), for URLs handed on to a client library. */
  authority: string;
  /** The path as written, "" or starting with "/". */
  path: string;
  query: URLSearchParams;
}

const URL_SHAPE = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#.*)?$/i;

function decode(part: string, what: string, url: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new InvalidOptions(`The ${what} of ${redactUrl(url)} is not valid percent-encoding`);
  }
}

function parseHost(entry: string, url: string): UrlHost {
  const bracketed = /^\[([^\]]+)\](?::(\d*))?$/.exec(entry);
  const plain = /^([^:[\]]+)(?::(\d*))?$/.exec(entry);
  const found = bracketed ?? plain;
  if (found === null) throw new InvalidOptions(`${redactUrl(url)} has a host that cannot be read: ${entry}`);
  const [, host = "", portText] = found;
  if (portText === undefined || portText === "") return { host, port: undefined };
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidOptions(`${redactUrl(url)} has port ${portText}: a port is 1 to 65535`);
  }
  return { host, port };
}

/** Takes a settings URL apart; throws InvalidOptions (with any password hidden) when it is not one. */
export function parseSettingsUrl(url: string): SettingsUrl {
  const found = URL_SHAPE.exec(url.trim());
  if (found === null) {
    throw new InvalidOptions(
      `${JSON.stringify(redactUrl(url))} is not a channel layer URL: write scheme://host[:port][/path][?options], e.g. redis://127.0.0.1:6379`,
    );
  }
  const [, scheme = "", authority = "", path = "", query = ""] = found;
  const at = authority.lastIndexOf("@");
  const userinfo = at === -1 ? undefined : authority.slice(0, at);
  const hostList = at === -1 ? authority : authority.slice(at + 1);
  let username: string | undefined;
  let password: string | undefined;
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(":");
    username = decode(colon === -1 ? userinfo : userinfo.slice(0, colon), "user name", url);
    password = colon === -1 ? undefined : decode(userinfo.slice(colon + 1), "password", url);
  }
  const hosts = hostList === "" ? [] : hostList.split(",").map((entry) => parseHost(entry, url));
  return {
    scheme: scheme.toLowerCase(),
    username,
    password,
    hosts,
    authority,
    path,
    query: new URLSearchParams(query),
  };
}
