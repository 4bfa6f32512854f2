import { type ChannelLayerOptions, InvalidOptions } from "@channel-layers/core";
import type { NatsConnection, NodeConnectionOptions } from "@nats-io/transport-node";
import { serverCredentials } from "./server-urls.js";
import { assertPrefix } from "./subjects.js";

/** Options of NatsChannelLayer: the common ChannelLayerOptions (Channels' own, in seconds) and the NATS ones. */
export interface NatsChannelLayerOptions extends ChannelLayerOptions {
  /**
   * Server URL(s) the layer connects to (and closes on close()). Credentials in a URL
   * (`nats://user:password@host`, `nats://token@host`) become connect options, as nats.js ignores
   * them there. Default "nats://127.0.0.1:4222".
   */
  servers?: string | string[];
  /**
   * A connection of yours to use instead; the layer only unsubscribes from it on close() and
   * never closes it. Give either this or `servers`.
   */
  connection?: NatsConnection;
  /**
   * Further nats.js options when the layer connects itself: `user`/`pass`, `token`,
   * `authenticator` (nkeys, creds files), `tls`... Default: reconnect forever, every 250 ms.
   */
  connectOptions?: Omit<NodeConnectionOptions, "servers">;
  /**
   * Namespace of every subject and stream the layer uses: instances with the same server and
   * prefix are one layer. Letters, digits, `-`, `_`, `.`. Default "asgi", as channels_redis.
   */
  prefix?: string;
  /**
   * Milliseconds to wait for the server (JetStream) or for the instance that owns a process-local
   * channel to answer before rejecting with BACKEND_UNAVAILABLE. Default 5000.
   */
  requestTimeoutMs?: number;
  /**
   * Milliseconds JetStream waits for a receiver's acknowledgement of a durable message before it
   * redelivers it (to this or another instance). Receives acknowledge at once, so this only
   * matters for a message lost on its way in a crash or disconnect. Default 30000.
   */
  ackWaitMs?: number;
  /**
   * Copies JetStream keeps of every stream the layer creates (named channels, memberships of
   * named channels, large bodies): 3 on a three-node cluster keeps them through the loss of a
   * node. 1 to 5. Default 1.
   */
  replicas?: number;
}

const DEFAULT_SERVERS = "nats://127.0.0.1:4222";
const DEFAULT_PREFIX = "asgi";
const DEFAULT_REQUEST_TIMEOUT_MS = 5000;
const DEFAULT_ACK_WAIT_MS = 30_000;
/** JetStream's own limit on a stream's replicas. */
const MAX_REPLICAS = 5;

/** The NATS options with defaults applied, values checked, and credentials out of the URLs. */
export interface ResolvedNatsOptions {
  /** Without credentials: safe to print. */
  readonly servers: readonly string[];
  readonly connection: NatsConnection | undefined;
  readonly connectOptions: Omit<NodeConnectionOptions, "servers">;
  readonly prefix: string;
  readonly requestTimeoutMs: number;
  readonly ackWaitMs: number;
  readonly replicas: number;
}

function milliseconds(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new InvalidOptions(`${name} must be a positive number of milliseconds; got ${String(value)}`);
  }
  return value;
}

function replicas(value: unknown): number {
  if (value === undefined) return 1;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > MAX_REPLICAS) {
    throw new InvalidOptions(`replicas must be an integer from 1 to ${MAX_REPLICAS}; got ${String(value)}`);
  }
  return value;
}

/** Applies the defaults and checks every NATS option; throws InvalidOptions on a bad one. */
export function resolveNatsOptions(options: NatsChannelLayerOptions): ResolvedNatsOptions {
  if (options.connection !== undefined && options.servers !== undefined) {
    throw new InvalidOptions("Give either servers or connection, not both");
  }
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  assertPrefix(prefix);
  const { servers, credentials } = serverCredentials(options.servers ?? DEFAULT_SERVERS);
  return {
    servers,
    connection: options.connection,
    connectOptions: withCredentials(options.connectOptions ?? {}, credentials),
    prefix,
    requestTimeoutMs: milliseconds("requestTimeoutMs", options.requestTimeoutMs, DEFAULT_REQUEST_TIMEOUT_MS),
    ackWaitMs: milliseconds("ackWaitMs", options.ackWaitMs, DEFAULT_ACK_WAIT_MS),
    replicas: replicas(options.replicas),
  };
}

/** `connectOptions` with the URLs' credentials added; a credential given both ways must agree. */
function withCredentials(
  connectOptions: Omit<NodeConnectionOptions, "servers">,
  credentials: { user?: string; pass?: string; token?: string },
): Omit<NodeConnectionOptions, "servers"> {
  for (const key of ["user", "pass", "token"] as const) {
    const given = connectOptions[key];
    if (given !== undefined && credentials[key] !== undefined && given !== credentials[key]) {
      throw new InvalidOptions(`connectOptions.${key} and the credentials in servers disagree: give them once`);
    }
  }
  return { ...credentials, ...connectOptions };
}
