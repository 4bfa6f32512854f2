import { ClientError } from "./errors.js";
import { globalWebSocket, type WebSocketConstructor } from "./host.js";
import { type HelloContext, type Offset, readGroupOffset, resumeHello, type StreamPosition } from "./resume.js";

/** How a socket closed, as shouldReconnect sees it. */
export interface SocketClose {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
}

/**
 * Close codes after which the client stays closed by default: the server ended the conversation
 * on purpose (1000), or refuses what this client does (protocol error, unsupported or invalid
 * data, policy violation, a missing extension), so trying again would be refused again.
 */
export const FINAL_CLOSE_CODES: readonly number[] = [1000, 1002, 1003, 1007, 1008, 1010];

/**
 * The default shouldReconnect: yes, except after FINAL_CLOSE_CODES. 1001 (server restarting),
 * 1006 (connection lost, also a refused handshake, which browsers cannot tell apart), 1011-1014
 * and the application's own 3000-4999 codes reconnect.
 */
export function reconnectUnlessFinal(close: SocketClose): boolean {
  return !FINAL_CLOSE_CODES.includes(close.code);
}

/** Options of ChannelLayersClient; every field has a default. Durations are in milliseconds. */
export interface ClientOptions {
  /** The WebSocket class. Default globalThis.WebSocket (browsers, Node 22+); in Node 20 pass `WebSocket` from `ws`. */
  WebSocket?: WebSocketConstructor;
  /** Subprotocols to offer (the consumer sees them in `scope.subprotocols`). Default none. */
  protocols?: string | string[];
  /** Delay before the first reconnect attempt. Default 500. */
  reconnectDelayMs?: number;
  /** The longest delay between attempts. Default 30,000. */
  maxReconnectDelayMs?: number;
  /** How much the delay grows per failed attempt (at least 1). Default 2. */
  reconnectFactor?: number;
  /** Share of each delay taken off at random, 0 (none) to 1 (anywhere from 0 to the delay). Default 0.5. */
  reconnectJitter?: number;
  /** Failed attempts in a row before the client gives up and closes; 0 never reconnects. Default Infinity. */
  maxReconnectAttempts?: number;
  /**
   * Decides after each close whether to reconnect. Default reconnectUnlessFinal. To make your own
   * 4xxx codes final: `(close) => close.code < 4000 && reconnectUnlessFinal(close)`.
   */
  shouldReconnect?: (close: SocketClose) => boolean;
  /** How long an opening socket may take before it is given up (reported as 1006) and retried; 0 waits forever. Default 10,000. */
  connectTimeoutMs?: number;
  /** How often an open connection is pinged; 0 turns the heartbeat off. Default 25,000. */
  heartbeatIntervalMs?: number;
  /** How long after a ping with nothing received the connection counts as dead (reported as 1006) and is replaced. Default 10,000. */
  heartbeatTimeoutMs?: number;
  /** Sends kept while offline; one more throws QUEUE_FULL. Default 100. */
  maxQueuedMessages?: number;
  /** UTF-8 bytes of sends kept while offline; a send that would pass it throws QUEUE_FULL. Default 1 MiB. */
  maxQueuedBytes?: number;
  /** Reads a frame's position for resume (see resume.ts); return undefined for none. Default readGroupOffset. */
  readOffset?: (content: unknown) => StreamPosition | undefined;
  /** Offsets to start from, e.g. kept in sessionStorage across a page reload. Default none. */
  initialOffsets?: Readonly<Record<string, Offset>>;
  /** Builds the frame sent first on each new connection, before the queue; undefined sends none. Default resumeHello. */
  hello?: (context: HelloContext) => unknown;
}

export type ResolvedClientOptions = Required<Omit<ClientOptions, "protocols">> & {
  protocols: string | string[] | undefined;
};

/** Applies the defaults and checks every value, throwing INVALID_OPTIONS or NO_WEBSOCKET. */
export function resolveClientOptions(options: ClientOptions): ResolvedClientOptions {
  const WebSocket = options.WebSocket ?? globalWebSocket();
  if (typeof WebSocket !== "function") {
    throw new ClientError(
      "NO_WEBSOCKET",
      "This environment has no global WebSocket: pass one, e.g. new ChannelLayersClient(url, { WebSocket }) with WebSocket from the ws package",
    );
  }
  const resolved: ResolvedClientOptions = {
    WebSocket,
    protocols: options.protocols,
    reconnectDelayMs: number("reconnectDelayMs", options.reconnectDelayMs, 500),
    maxReconnectDelayMs: number("maxReconnectDelayMs", options.maxReconnectDelayMs, 30_000),
    reconnectFactor: number("reconnectFactor", options.reconnectFactor, 2, 1),
    reconnectJitter: number("reconnectJitter", options.reconnectJitter, 0.5, 0, 1),
    maxReconnectAttempts: count("maxReconnectAttempts", options.maxReconnectAttempts, Number.POSITIVE_INFINITY),
    shouldReconnect: callable("shouldReconnect", options.shouldReconnect, reconnectUnlessFinal),
    connectTimeoutMs: number("connectTimeoutMs", options.connectTimeoutMs, 10_000),
    heartbeatIntervalMs: number("heartbeatIntervalMs", options.heartbeatIntervalMs, 25_000),
    heartbeatTimeoutMs: number("heartbeatTimeoutMs", options.heartbeatTimeoutMs, 10_000),
    maxQueuedMessages: count("maxQueuedMessages", options.maxQueuedMessages, 100),
    maxQueuedBytes: count("maxQueuedBytes", options.maxQueuedBytes, 1024 * 1024),
    readOffset: callable("readOffset", options.readOffset, readGroupOffset),
    initialOffsets: options.initialOffsets ?? {},
    hello: callable("hello", options.hello, resumeHello),
  };
  if (resolved.heartbeatIntervalMs > 0 && resolved.heartbeatTimeoutMs === 0) {
    throw new ClientError("INVALID_OPTIONS", "heartbeatTimeoutMs must be above 0 while the heartbeat is on");
  }
  return resolved;
}

function number(name: string, value: number | undefined, fallback: number, min = 0, max = Number.POSITIVE_INFINITY) {
  const resolved = value ?? fallback;
  if (typeof resolved !== "number" || !Number.isFinite(resolved) || resolved < min || resolved > max) {
    const range = max === Number.POSITIVE_INFINITY ? `a finite number of at least ${min}` : `from ${min} to ${max}`;
    throw new ClientError("INVALID_OPTIONS", `${name} must be ${range}; got ${String(value)}`);
  }
  return resolved;
}

/** A whole number of at least 0, or Infinity for no limit. */
function count(name: string, value: number | undefined, fallback: number) {
  const resolved = value ?? fallback;
  if (resolved !== Number.POSITIVE_INFINITY && !(Number.isInteger(resolved) && resolved >= 0)) {
    throw new ClientError(
      "INVALID_OPTIONS",
      `${name} must be a whole number of at least 0, or Infinity; got ${String(value)}`,
    );
  }
  return resolved;
}

function callable<F>(name: string, value: F | undefined, fallback: F): F {
  const resolved = value ?? fallback;
  if (typeof resolved !== "function") {
    throw new ClientError("INVALID_OPTIONS", `${name} must be a function; got ${typeof resolved}`);
  }
  return resolved;
}
