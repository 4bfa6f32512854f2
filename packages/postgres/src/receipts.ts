import { Backoff, type BackoffOptions } from "@channel-layers/core/backend";
import { isTransient } from "./errors.js";
import type { Maintenance } from "./maintenance.js";
import type { PostgresTransport } from "./transport.js";

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
 * Receipts of messages read from process-local channels: the deletions of one turn of the event
 * loop go out in one statement. Until its row is gone a message counts against capacity, and its
 * id stays in its owner's `unsettled` so no later read hands it out again. A deletion that fails
 * is retried with backoff (nobody else can receive these rows meanwhile).
 */
export class Receipts {
  private pending: Receipt[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private flushQueued = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly backoff: Backoff;
  private closed = false;

  constructor(
    private readonly transport: PostgresTransport,
    private readonly maintenance: Maintenance,
    backoff: BackoffOptions,
  ) {
    this.backoff = new Backoff(backoff);
  }

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
    // One string each, not arrays: pg would escape every element of an array.
    let rows = "";
    let ids = "";
    for (const receipt of batch) {
      rows += rows === "" ? receipt.row : ` ${receipt.row}`;
      ids += ids === "" ? receipt.id : ` ${receipt.id}`;
    }
    try {
      const result = await this.transport.query(this.transport.statements.receipt, [rows, ids]);
      this.backoff.reset();
      this.maintenance.received(result.rowCount ?? 0);
    } catch (error) {
      this.transport.diagnostics.backgroundError(error, { work: "receipts", count: batch.length });
      if (isTransient(error) && !this.closed) {
        this.pending.unshift(...batch);
        this.retryLater();
        return;
      }
      // The tables are gone or refuse the statement: the rows cannot count against anything.
    }
    for (const receipt of batch) receipt.owner.unsettled.delete(receipt.id);
  }

  private retryLater(): void {
    if (this.retryTimer !== undefined) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.flush();
    }, this.backoff.next());
    this.retryTimer.unref();
  }
}
