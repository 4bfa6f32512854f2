/** What the keepalive pings: a Connection (pings, or drops a client that did not answer the last one). */
export interface Pingable {
  ping(): void;
}

/** The interval is cut into this many ticks; each tick pings one slice of the connections. */
export const KEEPALIVE_SLICES = 20;

/**
 * Pings every connection once per interval, a slice of them at a time. One timer pinging all of
 * them at once stalls the event loop for every socket's write (and then for every pong): with a
 * thousand clients, a burst of a thousand writes every 20 s that every delivery of that moment
 * waits behind. Connections are dealt to slices in turn as they arrive, so slices stay even; each
 * connection is still pinged exactly once per interval, its first time within an interval of
 * joining, as with one timer.
 */
export class KeepaliveSchedule<T extends Pingable> {
  private readonly slices: Set<T>[] = Array.from({ length: KEEPALIVE_SLICES }, () => new Set<T>());
  private dealt = 0;
  private tick = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(intervalMs: number) {
    if (intervalMs <= 0) return;
    this.timer = setInterval(() => this.pingSlice(), Math.max(1, intervalMs / KEEPALIVE_SLICES));
    this.timer.unref();
  }

  /** Called once per connection, when it arrives. */
  add(connection: T): void {
    if (this.timer === undefined) return;
    (this.slices[this.dealt++ % KEEPALIVE_SLICES] as Set<T>).add(connection);
  }

  remove(connection: T): void {
    for (const slice of this.slices) if (slice.delete(connection)) return;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Pings the next slice (a ping may drop its connection, which removes it from the slice: copy first). */
  private pingSlice(): void {
    const slice = this.slices[this.tick++ % KEEPALIVE_SLICES] as Set<T>;
    for (const connection of [...slice]) connection.ping();
  }
}
