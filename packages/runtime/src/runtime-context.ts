import type { Logger } from "@channel-layers/core";
import { debugLogger, RateLimitedLog } from "@channel-layers/core/backend";
import type { Scope } from "./application.js";

/** The keys of `server.stats().drops`: what the runtime threw away, and why. */
export type DropReason =
  /** A client that did not read was dropped (its unsent bytes passed maxBufferedBytes). */
  | "slow-reader"
  /** A client kept sending while reading was paused and was closed with 1008. */
  | "too-much-input"
  /** A client did not answer a ping in time. */
  | "ping-timeout"
  /** A client sent a message above maxFrameBytes (closed with 1009). */
  | "message-too-big"
  /** A client broke the WebSocket protocol (ws closed it). */
  | "protocol-error"
  /** Frames of a dropped client (queued, or still arriving), never handed to its consumer. */
  | "queued-frame-of-dropped-client"
  /** A `websocket.*` or `http.*` message that came from the layer to a consumer that does not take them. */
  | "transport-event-from-layer";

/**
 * What the server lends the code that runs inside a connection (consumers, middleware): its
 * logger, a log that holds back repeats, and its drop counters. It travels on the scope, so
 * middleware that copies the scope (`{ ...scope }`) keeps it.
 */
export interface RuntimeContext {
  readonly logger: Logger;
  /** One line per key per minute, for causes a client can repeat at will (bad origins, bad names). */
  readonly rateLimitedLog: RateLimitedLog;
  /** Counts something dropped, in `server.stats().drops`. */
  countDrop(reason: DropReason, count?: number): void;
}

/** The runtime's default logger: quiet unless NODE_DEBUG names channel-layers:runtime. */
export const RUNTIME_LOG_NAMESPACE = "channel-layers:runtime";

const CONTEXT = Symbol.for("@channel-layers/runtime.context");

// Without a server (a test communicator, a worker) there is nobody to count for.
const processLogger = debugLogger(RUNTIME_LOG_NAMESPACE);
const processContext: RuntimeContext = {
  logger: processLogger,
  rateLimitedLog: new RateLimitedLog(processLogger),
  countDrop: () => undefined,
};

/** The context of the server running `scope`'s connection, or a process-wide quiet one. */
export function runtimeContext(scope: Scope): RuntimeContext {
  return ((scope as unknown as Record<symbol, unknown>)[CONTEXT] as RuntimeContext | undefined) ?? processContext;
}

/** Puts `context` on `scope` (a symbol key: invisible to JSON and to scope key listings by name). */
export function setRuntimeContext(scope: Scope, context: RuntimeContext): void {
  (scope as unknown as Record<symbol, unknown>)[CONTEXT] = context;
}
