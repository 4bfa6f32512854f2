import type { IncomingMessage } from "node:http";
import type { ChannelLayer, Logger } from "@channel-layers/core";
import { resolveLogger } from "@channel-layers/core/backend";
import type { Scope } from "../application.js";
import { RUNTIME_LOG_NAMESPACE } from "../runtime-context.js";
import type { ConnectEvent, DisconnectEvent, RejectEvent } from "./events.js";

/** Options of `attach()` and `serve()`; every field has a default. */
export interface WebsocketServerOptions {
  /**
   * The layer consumers get (`scope.channel_layer`). Default: `getChannelLayer()`, the settings'
   * default layer; null for none. The process's shutdown closes it; close() leaves it open.
   */
  channelLayer?: ChannelLayer | null;
  /**
   * Which upgrade requests are this server's: a path prefix ("/ws" takes /ws and /ws/..., not
   * /wsx) or a predicate. Others are left to the HTTP server's other "upgrade" listeners (a
   * second ws endpoint, Socket.IO), or answered 404 when there are none. Default: every upgrade.
   */
  path?: string | ((request: IncomingMessage) => boolean);
  /** Largest message a client may send, in bytes (a fragmented one counted whole); bigger closes with 1009. Default 1 MiB. */
  maxFrameBytes?: number;
  /**
   * Bytes that may wait unsent for one client; a client that falls further behind is too slow and
   * is dropped, so a stalled reader never grows the server's memory. Default 4 MiB.
   */
  maxBufferedBytes?: number;
  /**
   * Bytes of client frames one connection may have waiting for its consumer: past it, reading that
   * socket pauses (TCP pushes back on the client). A client whose frames still pile up past
   * max(2 x this, this + maxFrameBytes) is closed with 1008. Default 2 MiB.
   */
  maxQueuedBytes?: number;
  /** Client frames queued for a busy consumer before reading from that socket pauses. Default 64. */
  maxQueuedFrames?: number;
  /**
   * Every this many milliseconds each socket is pinged; one that has not answered the previous
   * ping by then is dropped (code 1006). The pings are spread over the interval (a twentieth of
   * the sockets at a time), not sent all at once. 0 turns keepalive off. Default 20,000.
   */
  pingIntervalMs?: number;
  /**
   * How long a connection may take from its first byte to an open WebSocket: a socket that has not
   * sent a whole request by then is closed (408; serve() only, attach() leaves its server's plain
   * HTTP alone), an application that has not accepted or rejected is answered 503. Default 10,000.
   */
  handshakeTimeoutMs?: number;
  /**
   * Most connections at once: with serve() every TCP connection (HTTP or WebSocket), with attach()
   * the WebSockets this server handles. Past it a new one is answered 503 and closed. Keep it
   * below the process's file-descriptor limit. Default Infinity.
   */
  maxConnections?: number;
  /** On close(), how long consumers get to finish their disconnect() before the server stops waiting. Default 10,000. */
  shutdownTimeoutMs?: number;
  /** Where the server logs (core's Logger shape). Default debugLogger("channel-layers:runtime"): quiet unless NODE_DEBUG names it. */
  logger?: Logger;
  /** Told about every error a consumer or middleware throws (the socket is closed with 1011). Default: logger.error. */
  onError?: (error: unknown, scope: Scope) => void;
  /** Called when a WebSocket opened (after 101). Default: nothing. */
  onConnect?: (event: ConnectEvent) => void;
  /** Called when an open WebSocket closed, with the code and why. Default: nothing. */
  onDisconnect?: (event: DisconnectEvent) => void;
  /** Called when a connection was refused at the handshake, with the status and why. Default: nothing. */
  onReject?: (event: RejectEvent) => void;
}

/** Options of `serve()`: the server options plus where to listen. */
export interface ServeOptions extends WebsocketServerOptions {
  /** Interface to listen on. Default "127.0.0.1". */
  host?: string;
  /** Port to listen on; 0 picks a free one (see `server.port`). Default 8000, as Django's runserver. */
  port?: number;
  /**
   * Signals that start the process's shutdown (see `shutdown()`): sockets closed with 1001,
   * consumers' groups left, workers finished, hooks run, layers closed. Default ["SIGTERM",
   * "SIGINT"]; [] listens for none (the server still stops when something else starts the shutdown).
   */
  shutdownSignals?: readonly NodeJS.Signals[];
}

export type ResolvedServerOptions = Required<Omit<WebsocketServerOptions, "channelLayer" | "path">> & {
  /** Whether an upgrade request is this server's. */
  handles: (request: IncomingMessage) => boolean;
};

/** "/ws" takes /ws, /ws/... and /ws?..., not /wsx. */
function prefixMatcher(prefix: string): (request: IncomingMessage) => boolean {
  if (!prefix.startsWith("/")) throw new TypeError(`path must start with "/"; got ${JSON.stringify(prefix)}`);
  const base = prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
  return (request) => {
    const url = request.url ?? "/";
    const end = url.search(/[?#]/);
    const pathname = end === -1 ? url : url.slice(0, end);
    return base === "" || pathname === base || pathname.startsWith(`${base}/`);
  };
}

export function resolveServerOptions(options: WebsocketServerOptions): ResolvedServerOptions {
  const positive = (name: keyof WebsocketServerOptions, value: number | undefined, fallback: number) => {
    const resolved = value ?? fallback;
    if (
      Number.isNaN(resolved) ||
      resolved < 0 ||
      (resolved === Number.POSITIVE_INFINITY && name !== "maxConnections")
    ) {
      throw new TypeError(`${name} must be a non-negative number; got ${String(value)}`);
    }
    return resolved;
  };
  const logger = resolveLogger(options.logger, RUNTIME_LOG_NAMESPACE);
  const { path } = options;
  if (path !== undefined && typeof path !== "string" && typeof path !== "function") {
    throw new TypeError(`path must be a prefix string or a predicate; got ${typeof path}`);
  }
  const nothing = () => undefined;
  return {
    handles: path === undefined ? () => true : typeof path === "string" ? prefixMatcher(path) : path,
    maxFrameBytes: positive("maxFrameBytes", options.maxFrameBytes, 1024 * 1024),
    maxBufferedBytes: positive("maxBufferedBytes", options.maxBufferedBytes, 4 * 1024 * 1024),
    maxQueuedBytes: positive("maxQueuedBytes", options.maxQueuedBytes, 2 * 1024 * 1024),
    maxQueuedFrames: positive("maxQueuedFrames", options.maxQueuedFrames, 64),
    pingIntervalMs: positive("pingIntervalMs", options.pingIntervalMs, 20_000),
    handshakeTimeoutMs: positive("handshakeTimeoutMs", options.handshakeTimeoutMs, 10_000),
    maxConnections: positive("maxConnections", options.maxConnections, Number.POSITIVE_INFINITY),
    shutdownTimeoutMs: positive("shutdownTimeoutMs", options.shutdownTimeoutMs, 10_000),
    logger,
    onError: options.onError ?? ((error, scope) => logger.error(`the application for ${scope.path} failed`, { error })),
    onConnect: options.onConnect ?? nothing,
    onDisconnect: options.onDisconnect ?? nothing,
    onReject: options.onReject ?? nothing,
  };
}
