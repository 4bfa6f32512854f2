/** A time in ms as channels_redis writes scores: epoch seconds with six decimals. */
export function epochSeconds(ms: number): string {
  return (ms / 1000).toFixed(6);
}

/** A time in ms as the 12 hex digits that start a member id's hex: held-set entries sent before it sort below. */
function epochHex(ms: number): string {
  return Math.max(0, Math.floor(ms)).toString(16).padStart(12, "0");
}

/** A score Redis gave back (epoch seconds) in ms. */
export function scoreMs(score: Buffer | string): number {
  return Number(score.toString()) * 1000;
}

/**
 * The times the layer writes next to its messages and memberships, all derived from `expiry` and
 * `groupExpiry` (converted to ms once, by the base).
 */
export class MessageTimes {
  /** Microseconds of the last score handed out: scores only grow, so one sender's order holds. */
  private lastScoreMicros = 0;
  /** Messages sent before the last flush began are dropped if a pop in flight brings them back. */
  private flushedAt = 0;

  constructor(
    readonly expiryMs: number,
    readonly groupExpiryMs: number,
  ) {}

  /**
   * The score of the next message: the time to the microsecond, above the last one, since Redis
   * orders equal scores by member, and members start with random bytes.
   */
  nextScore(now: number): string {
    const micros = Math.max(Math.round(now * 1000), this.lastScoreMicros + 1);
    this.lastScoreMicros = micros;
    return (micros / 1e6).toFixed(6);
  }

  /** How long a key holding messages lives after its last write: the expiry, at least 1 ms. */
  get ttlMs(): number {
    return Math.max(1, Math.ceil(this.expiryMs));
  }

  get groupTtlMs(): number {
    return Math.max(1, Math.ceil(this.groupExpiryMs));
  }

  /** Messages scored at or before this (epoch seconds) have expired. */
  expiryCutoff(now: number): string {
    return epochSeconds(now - this.expiryMs);
  }

  /** The same cutoff as held-set entries compare it (see epochHex). */
  expiryCutoffHex(now: number): string {
    return epochHex(now - this.expiryMs);
  }

  /** Until when a message sent at `sentAt` (ms) may be delivered; undefined if never any more. */
  deliverableUntil(sentAt: number, now: number): number | undefined {
    const expiresAt = sentAt + this.expiryMs;
    return expiresAt > now && sentAt >= this.flushedAt ? expiresAt : undefined;
  }

  /** A flush begins: what was sent before it is not delivered any more. */
  flushing(now: number): void {
    this.flushedAt = now;
  }

  /** Memberships scored at or before this (epoch seconds) have lapsed. */
  groupCutoff(now: number): string {
    return epochSeconds(now - this.groupExpiryMs);
  }
}
