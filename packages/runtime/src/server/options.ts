import type { ChannelLayer } from "@channel-layers/core";
import type { Scope } from "../application.js";

/** Options of `attach()` and `serve()`; every field has a default. */
export interface WebsocketServerOptions {
  /**
   * The layer consumers get (`scope.channel_layer`). Default: `getChannelLayer()`, the settings'
   * default layer; null for none. The process's shutdown closes it; close() leaves it open.
   */
  channelLayer?: ChannelLayer | null;
  /** Largest message a client may send, in bytes (a fragmented one counted whole); bigger closes with 1009. Default 1 MiB. */
  maxFrameBytes?: number;
  /**
   * Bytes that may wait unsent for one client; a client that falls further behind is too slow and
   * is dropped, so a stalled reader never grows the server's memory. Default 4 MiB.
   */
  maxBufferedBytes?: number;
  /** Client frames queued for a busy consumer before reading from that socket pauses. Default 64. */
  maxQueuedFrames?: number;
  /**
   * Every this many milliseconds each socket is pinged; one that has not answered the previous
   * ping by then is dropped (code 1006). 0 turns keepalive off. Default 20,000.
   */
  pingIntervalMs?: number;
  /** How long the application may take to accept or reject a handshake before a 503. Default 5,000. */
  handshakeTimeoutMs?: number;
  /** On close(), how long consumers get to finish their disconnect() before the server stops waiting. Default 10,000. */
  shutdownTimeoutMs?: number;
  /** Told about every error a consumer or middleware throws (the socket is closed with 1011). Default: console.error. */
  onError?: (error: unknown, scope: Scope) => void;
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

export type ResolvedServerOptions = Required<Omit<WebsocketServerOptions, "channelLayer">>;

export function resolveServerOptions(options: WebsocketServerOptions): ResolvedServerOptions {
  const positive = (name: keyof ResolvedServerOptions, value: number | undefined, fallback: number) => {
    const resolved = value ?? fallback;
    if (!Number.isFinite(resolved) || resolved < 0) {
      throw new TypeError(`${name} must be a non-negative number; got ${String(value)}`);
    }
    return resolved;
  };
  return {
    maxFrameBytes: positive("maxFrameBytes", options.maxFrameBytes, 1024 * 1024),
    maxBufferedBytes: positive("maxBufferedBytes", options.maxBufferedBytes, 4 * 1024 * 1024),
    maxQueuedFrames: positive("maxQueuedFrames", options.maxQueuedFrames, 64),
    pingIntervalMs: positive("pingIntervalMs", options.pingIntervalMs, 20_000),
    handshakeTimeoutMs: positive("handshakeTimeoutMs", options.handshakeTimeoutMs, 5_000),
    shutdownTimeoutMs: positive("shutdownTimeoutMs", options.shutdownTimeoutMs, 10_000),
    onError:
      options.onError ??
      ((error, scope) => console.error(`channel-layers: the application for ${scope.path} failed:`, error)),
  };
}
