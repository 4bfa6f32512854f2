import { debuglog } from "node:util";
import { coarseNow } from "@channel-layers/core/backend";
import type pg from "pg";
import type { PreparedStatement } from "./sql.js";

const debug = debuglog("channel-layers-postgres");

/** Expired rows removed per cleanup statement; a full batch makes the next one due at once. */
const CLEANUP_BATCH = 10_000;
/** One instance vacuums at most this often, however fast it receives. */
const MIN_VACUUM_INTERVAL_MS = 1000;

export interface MaintenanceOptions {
  pool: pg.Pool;
  cleanup: PreparedStatement;
  /** The message table, quoted. */
  messageTable: string;
  cleanupIntervalMs: number;
  /** Messages this instance receives between its VACUUMs of the message table; 0: never. */
  vacuumThreshold: number;
}

/**
 * Keeping the tables small without a cron job, in passing: whichever call comes due starts the
 * work in the background, on the pool.
 *
 * - Expired messages and lapsed memberships are deleted every cleanupInterval.
 * - The message table is vacuumed after every `vacuumThreshold` messages this instance received.
 *   A queue table is all churn: each message is one dead row once received, and every index
 *   scan over a channel visits its dead rows until a VACUUM removes them. Autovacuum looks at a
 *   table at most once per autovacuum_naptime (a minute by default), in which a busy layer leaves
 *   hundreds of thousands of dead rows, slowing every send and receive and growing the file.
 *   VACUUM does not block sends or receives, and SKIP_LOCKED makes a second one give way at once.
 */
export class Maintenance {
  private nextCleanupAt = 0;
  private receivedSinceVacuum = 0;
  private nextVacuumAt = 0;
  private vacuuming = false;
  private closed = false;
  private readonly running = new Set<Promise<unknown>>();

  constructor(private readonly options: MaintenanceOptions) {}

  /** Counts messages received (deleted) by this instance. */
  received(count: number): void {
    this.receivedSinceVacuum += count;
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
    work.finally(() => this.running.delete(work));
  }

  /** Starts nothing more and waits for what runs. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  private cleanup(now: number): void {
    this.nextCleanupAt = now + this.options.cleanupIntervalMs;
    const { cleanup } = this.options;
    const work = this.options.pool
      .query<{ messages: number; memberships: number }>({
        name: cleanup.name,
        text: cleanup.text,
        values: [CLEANUP_BATCH],
      })
      .then(
        (result) => {
          const removed = result.rows[0];
          // A full batch: more are waiting, so the next call should go on with them.
          if (removed && Math.max(removed.messages, removed.memberships) >= CLEANUP_BATCH) this.nextCleanupAt = 0;
        },
        (error: unknown) => debug("cleanup failed: %s", (error as Error).message),
      );
    this.track(work);
  }

  private vacuum(now: number): void {
    this.vacuuming = true;
    this.receivedSinceVacuum = 0;
    this.nextVacuumAt = now + MIN_VACUUM_INTERVAL_MS;
    // TRUNCATE false: giving the file's empty tail back needs an exclusive lock that busy senders
    // keep it from getting (it would wait up to 5 s); the space is reused instead, and autovacuum
    // truncates when the table is quiet.
    const work = this.options.pool
      .query(`VACUUM (SKIP_LOCKED, TRUNCATE false) ${this.options.messageTable}`)
      .then(
        () => undefined,
        (error: unknown) => debug("vacuum failed: %s", (error as Error).message),
      )
      .finally(() => {
        this.vacuuming = false;
      });
    this.track(work);
  }
}
