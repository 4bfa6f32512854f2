import { coarseNow } from "@channel-layers/core/backend";
import type { PostgresTransport } from "./transport.js";

/** Expired rows removed per cleanup statement; a full batch makes the next one due at once. */
const CLEANUP_BATCH = 10_000;
/** One instance vacuums at most this often, however fast it receives. */
const MIN_VACUUM_INTERVAL_MS = 1000;

export interface MaintenanceOptions {
  cleanupIntervalMs: number;
  /** Messages this instance receives between its VACUUMs of the message table; 0: never. */
  vacuumThreshold: number;
}

/**
 * Keeps the tables small without a cron job: whichever call comes due starts the work in the
 * background. Expired rows (messages, memberships, kept history) go every cleanupIntervalMs; the message table is vacuumed every
 * `vacuumThreshold` messages received, since autovacuum comes too rarely for a queue table
 * (docs/postgres.md, "Keeping the tables small"). Failures are reported and tried next time.
 */
export class Maintenance {
  private nextCleanupAt = 0;
  private receivedSinceVacuum = 0;
  private nextVacuumAt = 0;
  private vacuuming = false;
  private closed = false;
  private readonly running = new Set<Promise<unknown>>();

  constructor(
    private readonly transport: PostgresTransport,
    private readonly options: MaintenanceOptions,
  ) {}

  /** Counts messages received (deleted) by this instance, and starts whatever work is due. */
  received(count: number): void {
    this.receivedSinceVacuum += count;
    this.tick();
  }

  /** Starts whatever work is due; cheap when none is. */
  tick(): void {
    if (this.closed) return;
    const now = coarseNow();
    if (now >= this.nextCleanupAt) this.cleanup(now);
    const threshold = this.options.vacuumThreshold;
    if (threshold > 0 && this.receivedSinceVacuum >= threshold && now >= this.nextVacuumAt && !this.vacuuming) {
      this.vacuum(now);
    }
  }

  /** Runs `work` in the background; close() waits for it. */
  track(work: Promise<unknown>): void {
    this.running.add(work);
    void work.finally(() => this.running.delete(work));
  }

  /** Starts nothing more and waits for what runs. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  private cleanup(now: number): void {
    this.nextCleanupAt = now + this.options.cleanupIntervalMs;
    this.track(this.cleanupNow());
  }

  /** Expired messages, lapsed memberships, and lapsed history (kept messages, forgotten groups). */
  private async cleanupNow(): Promise<void> {
    const { transport } = this;
    try {
      const queues = await transport.query<{ messages: number; memberships: number }>(transport.statements.cleanup, [
        CLEANUP_BATCH,
      ]);
      const history = await transport.query<{ messages: number; groups: number }>(transport.statements.historyCleanup, [
        CLEANUP_BATCH,
      ]);
      const removed = [queues.rows[0]?.messages, queues.rows[0]?.memberships, history.rows[0]?.messages];
      if (Math.max(...removed.map((count) => count ?? 0)) >= CLEANUP_BATCH) this.nextCleanupAt = 0;
    } catch (error) {
      transport.diagnostics.backgroundError(error, { work: "cleanup" });
    }
  }

  private vacuum(now: number): void {
    this.vacuuming = true;
    this.receivedSinceVacuum = 0;
    this.nextVacuumAt = now + MIN_VACUUM_INTERVAL_MS;
    // TRUNCATE false: giving the file's tail back needs an exclusive lock busy senders keep from it.
    const work = this.transport.pool
      .query(`VACUUM (SKIP_LOCKED, TRUNCATE false) ${this.transport.names.messageTable}`)
      .then(
        () => undefined,
        (error: unknown) => this.transport.diagnostics.backgroundError(error, { work: "vacuum" }),
      )
      .finally(() => {
        this.vacuuming = false;
      });
    this.track(work);
  }
}
