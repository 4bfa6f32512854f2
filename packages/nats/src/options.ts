import { type ChannelLayerOptions, InvalidOptions } from "@channel-layers/core";
import type { NatsConnection, NodeConnectionOptions } from "@nats-io/transport-node";
import { assertPrefix } from "./subjects.js";

/** Options of NatsChannelLayer: the common ChannelLayerOptions and the NATS ones. */
export interface NatsChannelLayerOptions extends ChannelLayerOptions {
  /** Server URL(s) the layer connects to (and closes on close()). Default "nats://127.0.0.1:4222". */
  servers?: string | string[];
  /**
   * A connection of yours to use instead; the layer only unsubscribes from it on close() and
   * never closes it. Give either this or `servers`.
   */
  connection?: NatsConnection;
  /** Further nats.js options when the layer connects itself. Default: reconnect forever, every 250 ms. */
  connectOptions?: Omit<NodeConnectionOptions, "servers">;
  /**
   * Namespace of every subject and stream the layer uses: instances with the same server and
   * prefix are one layer. Letters, digits, `-`, `_`, `.`. Default "asgi", as channels_redis.
   */
  prefix?: string;
  /**
   * Seconds to wait for the server (JetStream) or for the instance that owns a process-local
   * channel to answer before rejecting with BACKEND_UNAVAILABLE. Default 5.
   */
  requestTimeout?: number;
  /**
   * Seconds JetStream waits for a receiver's acknowledgement of a durable message before it
   * redelivers it (to this or another instance). Receives acknowledge at once, so this only
   * matters for a message lost on its way in a crash or disconnect. Default 30.
   */
  ackWait?: number;
}

export const DEFAULT_NATS_SERVERS = "nats://127.0.0.1:4222";
export const DEFAULT_PREFIX = "asgi";
export const DEFAULT_REQUEST_TIMEOUT = 5;
export const DEFAULT_ACK_WAIT = 30;

/** The NATS options with defaults applied and values checked. */
export interface ResolvedNatsOptions {
  readonly servers: string | string[];
  readonly connection: NatsConnection | undefined;
  readonly connectOptions: Omit<NodeConnectionOptions, "servers">;
  readonly prefix: string;
  readonly requestTimeoutMs: number;
  readonly ackWaitMs: number;
}

function seconds(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback * 1000;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new InvalidOptions(`${name} must be a positive number of seconds; got ${String(value)}`);
  }
  return value * 1000;
}

/** Applies the defaults and checks every NATS option; throws InvalidOptions on a bad one. */
export function resolveNatsOptions(options: NatsChannelLayerOptions): ResolvedNatsOptions {
  if (options.connection !== undefined && options.servers !== undefined) {
    throw new InvalidOptions("Give either servers or connection, not both");
  }
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  assertPrefix(prefix);
  return {
    servers: options.servers ?? DEFAULT_NATS_SERVERS,
    connection: options.connection,
    connectOptions: options.connectOptions ?? {},
    prefix,
    requestTimeoutMs: seconds("requestTimeout", options.requestTimeout, DEFAULT_REQUEST_TIMEOUT),
    ackWaitMs: seconds("ackWait", options.ackWait, DEFAULT_ACK_WAIT),
  };
}
