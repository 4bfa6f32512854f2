import { debuglog } from "node:util";
import { isTransient } from "./errors.js";

const debug = debuglog("channel-layers-postgres");

/**
 * Deletes the rows at `rows` (ctids, space separated) whose id is the one at the same place in
 * `ids` (space separated); resolves with how many went. One string each, not arrays: pg would
 * escape every element of an array.
 */
export type ReceiptFunction = (rows: string, ids: string) => Promise<number>;

/** Whoever holds the message a receipt is for: told when its row is gone from the table. */
export interface ReceiptOwner {
  /** Ids of messages taken from this channel whose rows are not yet deleted. */
  readonly unsettled: Set<string>;
}

interface Receipt {
  owner: ReceiptOwner;
  id: string;
  row: string;
}

/** Receipts handed to a read, which deletes their rows in the same statement. */
export interface RideAlong {
  /** Ctids, space separated. */
  readonly rows: string;
  /** Ids, space separated, in the same order. */
  readonly ids: string;
  /** The statement carrying them succeeded: their rows are gone. */
  settled(): void;
  /** It failed: they are queued again (or dropped, for an error that will not pass). */
  failed(error: unknown): void;
}

/** Rows per DELETE at most: bounds one statement's parameters and work. */
const MAX_RECEIPTS_PER_STATEMENT = 20_000;
/**
 * How long queued receipts wait for a read to carry them before going out on their own. A read
 * usually follows within a millisecond or two (the next wake-up of a busy channel), so a burst
 * costs one statement per read instead of two; a receive that would leave the channel looking
 * full does not wait for this (Receivers flushes at once).
 */
const RECEIPT_DELAY_MS = 5;

/**
 * Receipts of messages read from process-local channels: a receive that takes such a message
 * queues the deletion of its row. Queued deletions ride along with the instance's next read (in
 * the same statement), or go out together after RECEIPT_DELAY_MS. Until its row is deleted a
 * message still counts against the channel's capacity for every sender, and its id stays in its
 * owner's `unsettled` set so that no later read hands it out again. A deletion that fails is
 * retried with backoff (the row only counts against capacity meanwhile; nobody else can receive
 * a process-local channel's messages).
 */
export class Receipts {
  private pending: Receipt[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  /** Deletions sent on their own (not riding along with a read) and not yet answered. */
  private alone = 0;
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private closed = false;

  constructor(
    private readonly remove: ReceiptFunction,
    private readonly removed: (count: number) => void,
    private readonly retryDelayMs: number,
    private readonly maxRetryDelayMs: number,
  ) {}

  /** Whether deletions sent on their own are under way (a read now could see their rows). */
  get sending(): boolean {
    return this.alone > 0;
  }

  /** Queues the deletion of row `row` (message `id`) for `owner`. */
  add(owner: ReceiptOwner, id: string, row: string): void {
    owner.unsettled.add(id);
    this.pending.push({ owner, id, row });
    if (this.timer !== undefined || this.retryTimer !== undefined || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, RECEIPT_DELAY_MS);
    this.timer.unref();
  }

  /** Hands the queued receipts to a read that deletes their rows itself, or undefined if none. */
  rideAlong(): RideAlong | undefined {
    if (this.pending.length === 0 || this.retryTimer !== undefined) return undefined;
    const batch = this.pending.splice(0, MAX_RECEIPTS_PER_STATEMENT);
    const { rows, ids } = joined(batch);
    let done!: () => void;
    const riding = new Promise<void>((resolve) => {
      done = resolve;
    }).finally(() => this.inFlight.delete(riding));
    this.inFlight.add(riding);
    return {
      rows,
      ids,
      settled: () => {
        this.settled(batch, batch.length);
        done();
      },
      failed: (error) => {
        this.failed(batch, error);
        done();
      },
    };
  }

  /** Sends what is queued now; resolves once it and every deletion under way have been attempted. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, MAX_RECEIPTS_PER_STATEMENT);
      this.alone++;
      const sending: Promise<void> = this.send(batch).finally(() => {
        this.alone--;
        this.inFlight.delete(sending);
      });
      this.inFlight.add(sending);
    }
    if (this.inFlight.size === 0) return Promise.resolve();
    return Promise.all(this.inFlight).then(() => undefined);
  }

  /** Sends what is queued and waits for every deletion under way; no retries afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.flush();
  }

  private async send(batch: Receipt[]): Promise<void> {
    const { rows, ids } = joined(batch);
    let count: number;
    try {
      count = await this.remove(rows, ids);
    } catch (error) {
      this.failed(batch, error);
      return;
    }
    this.settled(batch, count);
  }

  private settled(batch: Receipt[], count: number): void {
    this.failures = 0;
    this.removed(count);
    for (const receipt of batch) receipt.owner.unsettled.delete(receipt.id);
  }

  private failed(batch: Receipt[], error: unknown): void {
    if (isTransient(error) && !this.closed) {
      this.pending.unshift(...batch);
      this.retryLater(error);
      return;
    }
    // The tables are gone or refuse the statement: the rows cannot count against anything.
    debug("dropping %d receipts: %s", batch.length, (error as Error)?.message ?? error);
    for (const receipt of batch) receipt.owner.unsettled.delete(receipt.id);
  }

  private retryLater(error: unknown): void {
    if (this.retryTimer !== undefined) return;
    const delay = Math.min(this.retryDelayMs * 2 ** this.failures, this.maxRetryDelayMs);
    this.failures++;
    debug("receipts failed, retrying in %d ms: %s", delay, (error as Error)?.message ?? error);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.flush();
    }, delay);
    this.retryTimer.unref();
  }
}

function joined(batch: Receipt[]): { rows: string; ids: string } {
  let rows = "";
  let ids = "";
  for (const receipt of batch) {
    rows += rows === "" ? receipt.row : ` ${receipt.row}`;
    ids += ids === "" ? receipt.id : ` ${receipt.id}`;
  }
  return { rows, ids };
}
