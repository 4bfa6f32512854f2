/**
 * The counters every layer's stats() reports, since the layer was made. A backend adds its own
 * fields beside them (sizes of its tables, what its wire can lose).
 */
export interface ChannelLayerStats {
  /** The backend's name, as in its diagnostics channel: "memory", "redis", "postgres", "nats"... */
  backend: string;
  /** send() calls that passed validation and went to the backend; the caller saw any rejection. */
  sent: number;
  /** groupSend() calls that passed validation and went to the backend. */
  groupSends: number;
  /** Messages receive() resolved with. */
  received: number;
  /** Sends rejected with ChannelFull, and group deliveries skipped because the member was full. */
  channelFull: number;
  /** Messages from the server that did not decode to a valid message, dropped unseen by consumers. */
  droppedUndecodable: number;
  /** Messages whose send resolved but that the backend knows never reached the channel. */
  lostSends: number;
  /** Times the connection to the server came back after a loss. */
  reconnects: number;
  /** Failures of background work (delivery loops, retries, reconnects), each logged. */
  backgroundErrors: number;
}

/** What a layer publishes on its diagnostics channel. */
export type DiagnosticsEventName = "dropped" | "reconnect" | "background-error" | "open-failed";

/** One message on a layer's `node:diagnostics_channel` channel (see diagnosticsChannelName). */
export interface DiagnosticsEvent {
  event: DiagnosticsEventName;
  backend: string;
  /** The id of the layer instance, as in its channel names. */
  instanceId: string;
  /** For "dropped": why ("undecodable", "lost", or a backend's own reason). */
  reason?: string;
  /** How many messages the event is about (for "dropped"); 1 when absent. */
  count?: number;
  error?: unknown;
  /** Where it happened: a channel, a key, a subject. */
  details?: Record<string, unknown>;
}

/** The `node:diagnostics_channel` name a backend publishes on: `channel-layers:<backend>`. */
export function diagnosticsChannelName(backend: string): string {
  return `channel-layers:${backend}`;
}
