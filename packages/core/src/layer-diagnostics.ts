import { type Channel, channel as diagnosticsChannel } from "node:diagnostics_channel";
import { type LogDetails, type Logger, RateLimitedLog } from "./logger.js";
import type { Message } from "./message.js";
import type { MessageSerializer } from "./serializer.js";
import { type ChannelLayerStats, type DiagnosticsEvent, diagnosticsChannelName } from "./stats.js";

/** The common counters, kept as they change; stats() copies them. */
export type LayerCounters = Omit<ChannelLayerStats, "backend">;

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * One layer instance's counters, diagnostics channel and rate-limited log: hand it to the parts of
 * a backend that notice drops, reconnects and background failures, so every backend reports alike.
 */
export class LayerDiagnostics {
  readonly counters: LayerCounters = {
    sent: 0,
    groupSends: 0,
    received: 0,
    channelFull: 0,
    droppedUndecodable: 0,
    lostSends: 0,
    reconnects: 0,
    backgroundErrors: 0,
  };
  private readonly channel: Channel;
  private readonly log: RateLimitedLog;

  constructor(
    readonly backend: string,
    readonly instanceId: string,
    readonly logger: Logger,
  ) {
    this.channel = diagnosticsChannel(diagnosticsChannelName(backend));
    this.log = new RateLimitedLog(logger);
  }

  /** A snapshot of the common counters. */
  snapshot(): ChannelLayerStats {
    return { backend: this.backend, ...this.counters };
  }

  /**
   * Decodes bytes a peer wrote, or drops them: an undecodable message is counted in
   * `droppedUndecodable`, published as "dropped" (reason "undecodable") and logged once per
   * cause, and undefined is returned so it never reaches a consumer. `where` names the source.
   */
  decodeOrDrop(serializer: MessageSerializer, bytes: Uint8Array, where: LogDetails = {}): Message | undefined {
    try {
      return serializer.decode(bytes);
    } catch (error) {
      this.counters.droppedUndecodable++;
      this.dropped("undecodable", where, error);
      return undefined;
    }
  }

  /** Messages dropped for `reason` ("undecodable", "lost", ...): published and logged once per reason and cause. */
  dropped(reason: string, details: LogDetails = {}, error?: unknown, count = 1): void {
    this.publish({ event: "dropped", reason, count, error, details });
    const cause = error === undefined ? "" : describeError(error);
    this.log.warn(
      `dropped:${reason}:${cause}`,
      `Dropped ${count === 1 ? "a message" : `${count} messages`} (${reason})${cause ? `: ${cause}` : ""}`,
      {
        ...details,
        backend: this.backend,
      },
    );
  }

  /** Sends the backend knows were lost after they resolved: counted in `lostSends`, then as dropped(). */
  lost(count: number, details: LogDetails = {}, error?: unknown): void {
    this.counters.lostSends += count;
    this.dropped("lost", details, error, count);
  }

  /** The connection came back after a loss. */
  reconnected(details: LogDetails = {}): void {
    this.counters.reconnects++;
    this.publish({ event: "reconnect", details });
    this.logger.info(`Reconnected to ${this.backend}`, details);
  }

  /** Background work failed (it retries on its own): counted, published and logged once per cause. */
  backgroundError(error: unknown, details: LogDetails = {}): void {
    this.counters.backgroundErrors++;
    this.publish({ event: "background-error", error, details });
    this.log.warn(`background:${describeError(error)}`, `Background work failed: ${describeError(error)}`, {
      ...details,
      backend: this.backend,
    });
  }

  /** Opening the layer failed; calls made meanwhile reject with `error`. */
  openFailed(error: unknown): void {
    this.publish({ event: "open-failed", error });
    this.log.error(`open:${describeError(error)}`, `Could not open the ${this.backend} layer: ${describeError(error)}`);
  }

  private publish(event: Omit<DiagnosticsEvent, "backend" | "instanceId">): void {
    if (this.channel.hasSubscribers)
      this.channel.publish({ ...event, backend: this.backend, instanceId: this.instanceId });
  }
}
