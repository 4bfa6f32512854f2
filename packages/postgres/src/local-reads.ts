import type { Message } from "@channel-layers/core";
import { nonLocalName } from "@channel-layers/core/backend";
import { byId, type ChannelState, groupByChannel, type HeldMessage, type MessageSource } from "./channel-state.js";
import type { Receipts } from "./receipts.js";
import type { PostgresTransport } from "./transport.js";

/** A row a read returns: a message still in the table, at `row` (its ctid); no payload once expired. */
interface ReadRow {
  channel: string;
  id: string;
  row: string;
  expiresAt: number;
  payload: Buffer | null;
}

/**
 * Messages read ahead per channel: they stay in the table (counting against capacity) until a
 * receive takes them, so a receive loop behind a burst takes it from one read, not one per message.
 */
const READ_AHEAD = 100;
/** From this many channels on, a read scans whole ranges of names (a groupSend's members coming back). */
const WIDE_READ = 64;
/** Rows per range read at most; after a read this long, its channels are read one by one. */
const RANGE_READ_LIMIT = 50_000;
const NOTHING: ReadonlySet<string> = new Set();

/**
 * Receiving on this instance's process-local channels, which nobody else can receive: a read
 * leaves the rows in the table, and a receive that takes a message queues its receipt (the row's
 * deletion). Reads skip the ids whose receipts are not yet applied, so nothing is handed out twice.
 */
export class LocalReads implements MessageSource {
  readonly maxChannels = 50_000;

  constructor(
    private readonly transport: PostgresTransport,
    private readonly receipts: Receipts,
  ) {}

  wanted(state: ChannelState): number {
    // The rows whose receipts are under way come back too, and are skipped.
    return READ_AHEAD + state.unsettled.size;
  }

  fetch(states: ChannelState[], counts: number[]): Promise<void> {
    let narrow = false;
    for (const state of states) {
      narrow ||= state.narrow;
      state.narrow = false;
    }
    return states.length >= WIDE_READ && !narrow ? this.readRanges(states) : this.read(states, counts);
  }

  /**
   * The receive returns at once, unless the channel would still look full to a sender elsewhere
   * until this receipt lands: then once its row is gone, so a send after it finds the room.
   */
  taken(state: ChannelState, held: HeldMessage): Message | Promise<Message> {
    this.receipts.add(state, held.id, held.row);
    if (state.box.size() + state.unsettled.size < state.capacity) return held.message;
    return this.receipts.flush().then(() => held.message);
  }

  release(): void {
    // Read messages are still rows in the table; a discarded channel's rows are deleted by the layer.
  }

  private async read(states: ChannelState[], counts: number[]): Promise<void> {
    const skip = skipSets(states);
    const result = await this.transport.query<ReadRow>(this.transport.statements.read, [
      states.map((state) => state.channel),
      counts,
    ]);
    const byChannel = groupByChannel(result.rows);
    for (const [i, state] of states.entries()) {
      const rows = byChannel.get(state.channel);
      if (rows === undefined) continue;
      if (rows.length === counts[i]) state.dirty = true; // a full read may have left more behind
      this.deliver(state, rows, skip[i] as ReadonlySet<string>);
    }
  }

  /**
   * read() for many channels: one index range scan per newChannel() prefix among them (the rows of
   * the instance's other channels are ignored). A range cut short leaves its channels dirty and narrow.
   */
  private async readRanges(states: ChannelState[]): Promise<void> {
    // Receipts under way would have their rows read again (and skipped): wait for them first.
    if (this.receipts.busy) await this.receipts.flush();
    const skip = skipSets(states);
    const lows = [...new Set(states.map((state) => nonLocalName(state.channel)))].sort();
    const highs = lows.map(successor);
    const result = await this.transport.query<ReadRow>(this.transport.statements.readRange, [
      lows,
      highs,
      RANGE_READ_LIMIT,
    ]);
    const byChannel = groupByChannel(result.rows);
    const cut = result.rows.length >= RANGE_READ_LIMIT;
    for (const [i, state] of states.entries()) {
      const rows = byChannel.get(state.channel);
      if (rows !== undefined) this.deliver(state, rows, skip[i] as ReadonlySet<string>);
      if (cut) {
        state.dirty = true;
        state.narrow = true;
      }
    }
  }

  /** One channel's rows, oldest first: to its receives (or mailbox), expired and undecodable ones to the receipts. */
  private deliver(state: ChannelState, rows: ReadRow[], skip: ReadonlySet<string>): void {
    if (rows.length > 1) rows.sort(byId);
    for (const row of rows) {
      if (skip.has(row.id) || state.unsettled.has(row.id)) continue; // taken already
      if (row.payload === null) {
        this.receipts.add(state, row.id, row.row);
        continue;
      }
      if (state.forgotten) continue;
      const message = this.transport.decode(row.payload, state.channel);
      if (message === undefined) this.receipts.add(state, row.id, row.row);
      else
        state.box.deliver(
          { id: row.id, expiresAt: row.expiresAt, message, row: row.row, payload: undefined },
          row.expiresAt,
        );
    }
  }
}

/** The rows each read must skip: those whose receipts were not yet applied when it started. */
function skipSets(states: ChannelState[]): ReadonlySet<string>[] {
  return states.map((state) => (state.unsettled.size === 0 ? NOTHING : new Set(state.unsettled)));
}

/** The first string after every string that starts with `prefix` (byte order): the end of its range. */
function successor(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}
