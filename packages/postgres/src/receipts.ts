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

/** Rows per DELETE at most: bounds one statement's parameters and work. */
const MAX_RECEIPTS_PER_STATEMENT = 20_000;

/**
 * Receipts of messages read from process-local channels: a receive that takes such a message
 * queues the deletion of its row, and the deletions of one turn of the event loop go out in one
 * statement. Until its row is deleted a message still counts against the channel's capacity for
 * every sender, and its id stays in its owner's `unsettled` set so that no later read hands it
 * out again. A deletion that fails is retried with backoff (the row only counts against capacity
 * meanwhile; nobody else can receive a process-local channel's messages).
 */
export class Receipts {
  private pending: Receipt[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private flushQueued = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private closed = false;

  constructor(
    private readonly remove: ReceiptFunction,
    private readonly removed: (count: number) => void,
    private readonly retryDelayMs: number,
    private readonly maxRetryDelayMs: number,
  ) {}

  /** Queues the deletion of row `row` (message `id`) for `owner`; it goes out this turn. */
  add(owner: ReceiptOwner, id: string, row: string): void {
    owner.unsettled.add(id);
    this.pending.push({ owner, id, row });
    if (this.flushQueued || this.retryTimer !== undefined) return;
    this.flushQueued = true;
    setImmediate(() => {
      this.flushQueued = false;
      void this.flush();
    });
  }

  /** Whether receipts are queued or under way. */
  get busy(): boolean {
    return this.pending.length > 0 || this.inFlight.size > 0;
  }

  /** Sends what is queued now; resolves once it and every deletion under way have been attempted. */
  flush(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, MAX_RECEIPTS_PER_STATEMENT);
      const sending: Promise<void> = this.send(batch).finally(() => this.inFlight.delete(sending));
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
    try {
      let rows = "";
      let ids = "";
      for (const receipt of batch) {
        rows += rows === "" ? receipt.row : ` ${receipt.row}`;
        ids += ids === "" ? receipt.id : ` ${receipt.id}`;
      }
      const count = await this.remove(rows, ids);
      this.failures = 0;
      this.removed(count);
    } catch (error) {
      if (isTransient(error) && !this.closed) {
        this.pending.unshift(...batch);
        this.retryLater(error);
        return;
      }
      // The tables are gone or refuse the statement: the rows cannot count against anything.
      debug("dropping %d receipts: %s", batch.length, (error as Error)?.message ?? error);
    }
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
