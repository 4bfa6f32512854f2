import type { ChannelLayer } from "@channel-layers/core";
import type { DropReason } from "../runtime-context.js";
import type { RejectReason } from "./events.js";

/** `server.stats()`: plain numbers, safe to serialise or to copy into a metrics library. */
export interface WebsocketServerStats {
  connections: {
    /** WebSockets open now (accepted, not yet closed). */
    open: number;
    /** Connections still in their handshake now. */
    handshaking: number;
    /** WebSockets accepted since the server started. */
    total: number;
  };
  messages: {
    /** Frames received from clients. */
    in: number;
    /** Frames sent to clients. */
    out: number;
  };
  /** Bytes of client frames waiting for their consumers now (bounded by maxQueuedBytes per connection). */
  queuedBytes: number;
  /** Handshakes refused, by reason. */
  rejected: Partial<Record<RejectReason, number>>;
  /** Clients, frames and layer messages dropped, by reason. */
  drops: Partial<Record<DropReason, number>>;
  /** The layer's own `stats` (a property or a method), when it has them. */
  layer?: unknown;
}

/** The counters behind `stats()`, updated by the server and its connections. */
export class ServerCounters {
  open = 0;
  handshaking = 0;
  total = 0;
  messagesIn = 0;
  messagesOut = 0;
  queuedBytes = 0;
  private readonly rejected: Partial<Record<RejectReason, number>> = {};
  private readonly drops: Partial<Record<DropReason, number>> = {};

  reject(reason: RejectReason): void {
    this.rejected[reason] = (this.rejected[reason] ?? 0) + 1;
  }

  drop(reason: DropReason, count = 1): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + count;
  }

  snapshot(layer: ChannelLayer | undefined): WebsocketServerStats {
    const stats: WebsocketServerStats = {
      connections: { open: this.open, handshaking: this.handshaking, total: this.total },
      messages: { in: this.messagesIn, out: this.messagesOut },
      queuedBytes: this.queuedBytes,
      rejected: { ...this.rejected },
      drops: { ...this.drops },
    };
    const layerStats = layer === undefined ? undefined : (layer as { stats?: unknown }).stats;
    if (typeof layerStats === "function") stats.layer = (layerStats as () => unknown).call(layer);
    else if (layerStats !== undefined) stats.layer = layerStats;
    return stats;
  }
}
