import { type ChannelLayer, InvalidOptions } from "@channel-layers/core";
import { redactUrl } from "@channel-layers/core/backend";
import { InMemoryChannelLayer } from "@channel-layers/memory";
import { BackendNotInstalled, isMissingPackage } from "./errors.js";
import type { SettingsUrl, UrlHost } from "./url.js";

/** The backends settings can name; each is its package's layer class. */
export type ChannelLayerBackend = "memory" | "redis" | "redis-pubsub" | "postgres" | "nats";

/** Constructor options, as the backend's own Options type spells them. */
export type LayerOptions = Record<string, unknown>;

type OptionKind = "string" | "number" | "integer" | "boolean";

interface Backend {
  /** How messages name it: "Redis", "NATS"... */
  label: string;
  /** The package that has the layer class, and the class's name there; undefined for the in-memory layer (always installed). */
  packageName: string | undefined;
  exportName: string;
  /** URL schemes this backend is chosen by. */
  schemes: readonly string[];
  /** Query-string options and how to read them; camelCase (snake_case is accepted too). */
  queryOptions: Readonly<Record<string, OptionKind>>;
  /** Whether other query parameters belong to the client library (pg's sslmode...) rather than being typos. */
  passesOtherParameters: boolean;
  /** Constructor options from the URL's scheme, credentials, hosts and path. */
  fromUrl(url: SettingsUrl, raw: string, otherParameters: URLSearchParams): LayerOptions;
  /** Moves query options that belong inside another option to their place (Sentinel's credentials). */
  arrange?(options: LayerOptions): LayerOptions;
}

/** Channels' own options, and the presence timings: every backend's. */
const COMMON: Record<string, OptionKind> = {
  capacity: "integer",
  expiry: "number",
  groupExpiry: "number",
  maxMessageSize: "integer",
  presenceHeartbeatMs: "number",
  presenceTimeoutMs: "number",
};

function single(url: SettingsUrl, raw: string, hint: string): UrlHost {
  const [host, ...others] = url.hosts;
  if (host === undefined || others.length > 0) {
    throw new InvalidOptions(`${redactUrl(raw)} must name exactly one host${hint}`);
  }
  return host;
}

function noPath(url: SettingsUrl, raw: string): void {
  if (url.path !== "" && url.path !== "/") throw new InvalidOptions(`${redactUrl(raw)} takes no path`);
}

/** ioredis needs IPv6 addresses without brackets, nats.js with them. */
function hostPort(host: UrlHost, defaultPort: number): string {
  const name = host.host.includes(":") ? `[${host.host}]` : host.host;
  return `${name}:${host.port ?? defaultPort}`;
}

function redisDatabase(segment: string | undefined, raw: string): { db?: number } {
  if (segment === undefined || segment === "") return {};
  const db = Number(segment);
  if (!/^\d+$/.test(segment) || !Number.isSafeInteger(db)) {
    throw new InvalidOptions(`${redactUrl(raw)}: the path is the database number, e.g. /0; got /${segment}`);
  }
  return { db };
}

function credentials(url: SettingsUrl): { username?: string; password?: string } {
  return {
    ...(url.username ? { username: url.username } : {}),
    ...(url.password !== undefined ? { password: url.password } : {}),
  };
}

/** What settings need of a backend package: its layer class. */
type LayerClass = new (options: LayerOptions) => ChannelLayer;

/**
 * The backend's layer class, its package imported on first use. The specifier is a variable on
 * purpose: the runtime neither needs the backends to build nor carries their types in its own.
 */
export async function importLayerClass(name: ChannelLayerBackend): Promise<LayerClass> {
  const { label, packageName, exportName } = BACKENDS[name];
  if (packageName === undefined) return InMemoryChannelLayer;
  let module: Record<string, unknown>;
  try {
    module = (await import(packageName)) as Record<string, unknown>;
  } catch (error) {
    if (isMissingPackage(error, packageName)) throw new BackendNotInstalled(label, packageName, { cause: error });
    throw error;
  }
  const layerClass = module[exportName];
  if (typeof layerClass !== "function") {
    throw new TypeError(
      `${packageName} has no ${exportName}: install the version that matches @channel-layers/runtime`,
    );
  }
  return layerClass as LayerClass;
}

const redisHosts = (url: SettingsUrl, raw: string): LayerOptions => {
  if (url.scheme === "redis+sentinel") {
    const [, master = "", database, ...rest] = url.path.split("/");
    if (master === "" || rest.length > 0) {
      throw new InvalidOptions(
        `${redactUrl(raw)}: write redis+sentinel://sentinel1:26379,sentinel2:26379/<master name>[/<db>]`,
      );
    }
    if (url.hosts.length === 0) throw new InvalidOptions(`${redactUrl(raw)} names no Sentinel`);
    const sentinels = url.hosts.map((host) => ({ host: host.host, port: host.port ?? 26379 }));
    return { hosts: [{ sentinels, name: master, ...credentials(url), ...redisDatabase(database, raw) }] };
  }
  const host = single(url, raw, ": list several in options.hosts (a ring of shards), or use redis+sentinel://");
  const [, database, ...rest] = url.path.split("/");
  if (rest.length > 0) throw new InvalidOptions(`${redactUrl(raw)}: the path is only the database number, e.g. /0`);
  return {
    hosts: [
      {
        host: host.host,
        port: host.port ?? 6379,
        ...credentials(url),
        ...redisDatabase(database, raw),
        ...(url.scheme === "rediss" ? { tls: {} } : {}),
      },
    ],
  };
};

const REDIS_SCHEMES = ["redis", "rediss", "redis+sentinel"] as const;
const REDIS_QUERY = { ...COMMON, prefix: "string", sentinelUsername: "string", sentinelPassword: "string" } as const;

/** Sentinel's own credentials come from the query string and belong beside the sentinels. */
function withSentinelCredentials(options: LayerOptions): LayerOptions {
  const { sentinelUsername, sentinelPassword, ...rest } = options;
  if (sentinelUsername === undefined && sentinelPassword === undefined) return rest;
  const [host] = (rest.hosts as LayerOptions[] | undefined) ?? [];
  if (host === undefined || !("sentinels" in host)) {
    throw new InvalidOptions("sentinelUsername and sentinelPassword belong to redis+sentinel:// URLs");
  }
  return { ...rest, hosts: [{ ...host, sentinelUsername, sentinelPassword }] };
}

export const BACKENDS: Readonly<Record<ChannelLayerBackend, Backend>> = {
  memory: {
    label: "in-memory",
    exportName: "InMemoryChannelLayer",
    packageName: undefined,
    schemes: ["memory"],
    queryOptions: COMMON,
    passesOtherParameters: false,
    fromUrl(url, raw) {
      if (url.authority !== "" || url.path !== "") throw new InvalidOptions(`${redactUrl(raw)}: write memory:// alone`);
      return {};
    },
  },
  redis: {
    label: "Redis",
    exportName: "RedisChannelLayer",
    packageName: "@channel-layers/redis",
    schemes: REDIS_SCHEMES,
    queryOptions: REDIS_QUERY,
    passesOtherParameters: false,
    fromUrl: redisHosts,
    arrange: withSentinelCredentials,
  },
  "redis-pubsub": {
    label: "Redis pub/sub",
    exportName: "RedisPubSubChannelLayer",
    packageName: "@channel-layers/redis",
    schemes: REDIS_SCHEMES,
    queryOptions: REDIS_QUERY,
    passesOtherParameters: false,
    fromUrl: redisHosts,
    arrange: withSentinelCredentials,
  },
  postgres: {
    label: "PostgreSQL",
    exportName: "PostgresChannelLayer",
    packageName: "@channel-layers/postgres",
    schemes: ["postgres", "postgresql"],
    queryOptions: {
      ...COMMON,
      prefix: "string",
      schema: "string",
      poolSize: "integer",
      migrate: "boolean",
      cleanupIntervalMs: "number",
      vacuumThreshold: "integer",
      pollIntervalMs: "number",
      timeoutMs: "number",
      retryDelayMs: "number",
      maxRetryDelayMs: "number",
    },
    passesOtherParameters: true,
    fromUrl(url, _raw, otherParameters) {
      const query = otherParameters.toString();
      return { connectionString: `${url.scheme}://${url.authority}${url.path}${query ? `?${query}` : ""}` };
    },
  },
  nats: {
    label: "NATS",
    exportName: "NatsChannelLayer",
    packageName: "@channel-layers/nats",
    schemes: ["nats", "tls"],
    queryOptions: { ...COMMON, prefix: "string", requestTimeoutMs: "number", ackWaitMs: "number", replicas: "integer" },
    passesOtherParameters: false,
    fromUrl(url, raw) {
      noPath(url, raw);
      if (url.hosts.length === 0) throw new InvalidOptions(`${redactUrl(raw)} names no server`);
      // nats.js ignores credentials in server URLs; NATS reads a lone user part as a token.
      const auth =
        url.username === undefined
          ? {}
          : url.password === undefined
            ? { token: url.username }
            : { user: url.username, pass: url.password };
      const tls = url.scheme === "tls" ? { tls: {} } : {};
      const connectOptions = { ...auth, ...tls };
      return {
        servers: url.hosts.map((host) => `${url.scheme}://${hostPort(host, 4222)}`),
        ...(Object.keys(connectOptions).length > 0 ? { connectOptions } : {}),
      };
    },
  },
};

/** The backend a URL scheme picks: each scheme belongs to one (redis-pubsub is chosen by name only). */
export function backendOfScheme(scheme: string): ChannelLayerBackend | undefined {
  for (const name of ["memory", "redis", "postgres", "nats"] as const) {
    if (BACKENDS[name].schemes.includes(scheme)) return name;
  }
  return undefined;
}

function camelCase(name: string): string {
  return name.replace(/_([a-z])/g, (_underscore, letter: string) => letter.toUpperCase());
}

function readValue(name: string, kind: OptionKind, text: string, raw: string): unknown {
  if (kind === "string") return text;
  if (kind === "boolean") {
    if (["true", "1", "yes"].includes(text)) return true;
    if (["false", "0", "no"].includes(text)) return false;
    throw new InvalidOptions(`${redactUrl(raw)}: ${name} must be true or false; got ${JSON.stringify(text)}`);
  }
  const value = text.trim() === "" ? Number.NaN : Number(text);
  if (!Number.isFinite(value) || (kind === "integer" && !Number.isInteger(value))) {
    throw new InvalidOptions(
      `${redactUrl(raw)}: ${name} must be ${kind === "integer" ? "an integer" : "a number"}; got ${JSON.stringify(text)}`,
    );
  }
  return value;
}

/**
 * Splits a URL's query string into the backend's options (converted to their types) and the
 * parameters left for the client library; an unknown parameter is an error unless the library
 * takes it.
 */
export function queryOptions(
  backend: ChannelLayerBackend,
  query: URLSearchParams,
  raw: string,
): { options: LayerOptions; otherParameters: URLSearchParams } {
  const spec = BACKENDS[backend];
  const options: LayerOptions = {};
  const otherParameters = new URLSearchParams();
  for (const [parameter, text] of query) {
    const name = camelCase(parameter);
    const kind = Object.hasOwn(spec.queryOptions, name) ? spec.queryOptions[name] : undefined;
    if (kind === undefined) {
      if (spec.passesOtherParameters) {
        otherParameters.append(parameter, text);
        continue;
      }
      throw new InvalidOptions(
        `${redactUrl(raw)}: unknown option ${JSON.stringify(parameter)}; the ${backend} layer takes ${Object.keys(spec.queryOptions).join(", ")}`,
      );
    }
    if (Object.hasOwn(options, name)) throw new InvalidOptions(`${redactUrl(raw)} gives ${name} twice`);
    options[name] = readValue(name, kind, text, raw);
  }
  return { options, otherParameters };
}
