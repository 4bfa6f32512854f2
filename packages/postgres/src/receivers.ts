import { debuglog } from "node:util";
import { coarseNow, Mailbox } from "@channel-layers/core/backend";
import { backendUnavailable, isTransient } from "./errors.js";
import type { ReceiptOwner, Receipts } from "./receipts.js";

const debug = debuglog("channel-layers-postgres");

/** A message taken from the table, still encoded, with what it takes to put it back. */
export interface ClaimedMessage {
  id: string;
  channel: string;
  /** Milliseconds since the epoch, by the server's clock. */
  expiresAt: number;
  payload: Buffer;
}

/** A row a claim returns: a message, or (id null) word that the channel holds more than was taken. */
export type ClaimRow = ClaimedMessage | { channel: string; id: null };

/** Takes up to `counts[i]` of the oldest messages of `channels[i]` from the table. */
export type ClaimFunction = (channels: string[], counts: number[]) => Promise<ClaimRow[]>;

/** A row a read returns: a message still in the table, at `row` (its ctid); no payload once expired. */
export interface ReadRow extends Omit<ClaimedMessage, "payload"> {
  row: string;
  payload: Buffer | null;
}

/** Reads (without deleting) up to `counts[i]` of the oldest messages of process-local `channels[i]`. */
export type ReadFunction = (channels: string[], counts: number[]) => Promise<ReadRow[]>;

/**
 * Reads (without deleting) every message of the channels from `lows[i]` (inclusive) to
 * `highs[i]` (exclusive), in (channel, id) order, at most `limit` per range.
 */
export type ReadRangeFunction = (lows: string[], highs: string[], limit: number) => Promise<ReadRow[]>;

export interface ReceiversOptions {
  /** For named channels, which other processes may receive too. */
  claim: ClaimFunction;
  /** For this instance's process-local channels, which nobody else can receive. */
  read: ReadFunction;
  /** The same for many of them at once, by ranges of names. */
  readRange: ReadRangeFunction;
  /** Where the receipts of messages read from process-local channels go. */
  receipts: Receipts;
  capacityFor(channel: string): number;
  /** Called with claimed messages of named channels whose receivers went away, to return them to the table. */
  putBack(messages: ClaimedMessage[]): void;
  pollIntervalMs: number;
  retryDelayMs: number;
  maxRetryDelayMs: number;
}

interface ChannelState extends ReceiptOwner {
  readonly channel: string;
  readonly named: boolean;
  /** Named: messages claimed (deleted) for it. Process-local: messages read, still in the table. */
  readonly box: Mailbox<ClaimedMessage>;
  /**
   * The table may hold messages for it that no claim has looked for yet. Cleared when a claim
   * starts, set by every wake-up; a claim that comes back with fewer messages than it asked for
   * leaves it clear, so an idle channel costs no queries until the next NOTIFY.
   */
  dirty: boolean;
  /** A claim for it is in flight. Never two at once: their results could arrive out of order. */
  claiming: boolean;
  /** A range read was cut short before it: read it alone next time (see readRange). */
  narrow: boolean;
  /** Process-local: the start of its name up to "!", which its range read scans. */
  readonly low: string;
  /** Its place in the range read under way for it, if any. */
  slot: number;
  /** Rows that range read brought for it, while they are sorted out. */
  gathered: ReadRow | ReadRow[] | undefined;
}

/** Claims per statement, and messages per channel per claim: bounds on one statement's work. */
const MAX_CHANNELS_PER_CLAIM = 5000;
const MAX_MESSAGES_PER_CHANNEL = 100;
const MAX_CHANNELS_PER_READ = 50_000;
/**
 * Messages read ahead per process-local channel: they stay in the table (counting against
 * capacity) until a receive takes them, so reading ahead costs senders nothing, and a receive
 * loop behind a burst takes the whole burst from one read instead of one read per message.
 */
const READ_AHEAD = 100;
/**
 * Process-local channels from which a read scans whole ranges of names (all channels one
 * newChannel() prefix gave this instance) rather than descending the index once per channel; a
 * read this wide is a groupSend's members coming back. Rows of channels not in the batch are
 * read and ignored: what other channels of the instance hold, at most their capacity each.
 */
const WIDE_READ = 64;
/** Rows per range read at most; after a read this long, its channels are read one by one. */
const RANGE_READ_LIMIT = 50_000;
/** Claims in flight at once, each for a different set of channels. */
const MAX_CLAIMS_IN_FLIGHT = 2;
const SWEEP_INTERVAL_MS = 1000;
const NOTHING: ReadonlySet<string> = new Set();

/**
 * The receiving half of one layer instance. A receive waits in its channel's mailbox; a channel
 * with waiters and possibly unclaimed messages is claimed for in a batch with every other such
 * channel, taking only as many messages as there are waiters, so messages stay in the table (and
 * count against capacity, and remain claimable by other processes for named channels) until a
 * receive is there to take them. A message that arrives after its receive was aborted waits in
 * the mailbox for the next receive on that channel, keeping its place in line.
 */
export class Receivers {
  private readonly states = new Map<string, ChannelState>();
  private readonly due = new Set<ChannelState>();
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  private closed = false;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly pollTimer: NodeJS.Timeout;
  private nextSweepAt = 0;
  private kickQueued = false;

  constructor(private readonly options: ReceiversOptions) {
    this.pollTimer = setInterval(() => this.poll(), options.pollIntervalMs);
    this.pollTimer.unref();
  }

  /** Channels with a mailbox now (waiting receives or messages claimed for them); for leak checks. */
  get size(): number {
    return this.states.size;
  }

  /** The next message of `channel`, waiting for one. */
  take<T>(channel: string, signal: AbortSignal | undefined, finish: (message: ClaimedMessage) => T): Promise<T> {
    const state = this.open(channel);
    const buffered = state.box.takeBuffered();
    if (buffered !== undefined) {
      try {
        return Promise.resolve(this.finished(state, buffered, finish));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const taking = state.box.take(signal);
    if (state.dirty) this.schedule(state);
    return taking.then((message) => this.finished(state, message, finish));
  }

  /** `finish(message)`, once the receipt of a process-local message allows (see taken). */
  private finished<T>(
    state: ChannelState,
    message: ClaimedMessage,
    finish: (message: ClaimedMessage) => T,
  ): T | Promise<T> {
    if (state.named) return finish(message);
    const receipt = this.taken(state, message);
    return receipt === undefined ? finish(message) : receipt.then(() => finish(message));
  }

  /**
   * A receive took a message read from a process-local channel: its row goes in this turn's
   * receipts. The receive returns at once, unless the channel would still look full to a sender
   * elsewhere until that receipt lands (what is buffered plus the receipts not yet applied
   * reaches the capacity): then only once its row is gone, so a send after it finds the room.
   */
  private taken(state: ChannelState, message: ClaimedMessage): Promise<void> | undefined {
    this.options.receipts.add(state, message.id, (message as ReadRow).row);
    if (state.box.size() + state.unsettled.size < this.options.capacityFor(state.channel)) return undefined;
    return this.options.receipts.flush();
  }

  /** A wake-up for `channel`. */
  notified(channel: string): void {
    const state = this.states.get(channel);
    if (state === undefined) return;
    state.dirty = true;
    if (state.box.waiting > 0) this.schedule(state);
  }

  /** A wake-up for every named channel, or for every process-local one. */
  notifiedAll(named: boolean): void {
    for (const state of this.states.values()) {
      if (state.named !== named) continue;
      state.dirty = true;
      if (state.box.waiting > 0) this.due.add(state);
    }
    this.kick();
  }

  /** After the LISTEN connection was down: wake-ups may have been missed, so look at everything again. */
  recheckAll(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.failures = 0;
    for (const state of this.states.values()) {
      state.dirty = true;
      if (state.box.waiting > 0) this.due.add(state);
    }
    this.kick();
  }

  /** Rejects the channel's waiting receives with `error`; its claimed messages are dropped (process-local) or put back (named). */
  discard(channel: string, error: unknown): void {
    const state = this.states.get(channel);
    if (state === undefined) return;
    this.forget(state);
    this.release(state);
    state.box.clear(error);
  }

  /** Drops every claimed message not yet taken; waiting receives keep waiting. */
  dropBuffered(): void {
    for (const state of this.states.values()) state.box.dropBuffered();
  }

  /**
   * Stops claiming, waits for the claims in flight and returns the named channels' claimed
   * messages to the table. Waiting receives stay pending until rejectAll(): the caller rejects
   * them last, right before its close() resolves, so a caller awaiting close() before looking at
   * its receives never sees an unhandled rejection.
   */
  async stop(): Promise<void> {
    this.closed = true;
    clearInterval(this.pollTimer);
    clearTimeout(this.retryTimer);
    this.due.clear();
    if (this.inFlight > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    for (const state of this.states.values()) this.release(state);
    await this.options.receipts.close();
  }

  /** Rejects every waiting receive with `error` and forgets every channel. */
  rejectAll(error: unknown): void {
    const states = [...this.states.values()];
    this.states.clear();
    for (const state of states) state.box.clear(error);
  }

  private open(channel: string): ChannelState {
    const now = coarseNow();
    if (now >= this.nextSweepAt) this.sweep(now);
    let state = this.states.get(channel);
    if (state === undefined) {
      state = {
        channel,
        named: !channel.includes("!"),
        box: new Mailbox(),
        dirty: true,
        claiming: false,
        narrow: false,
        low: channel.slice(0, channel.indexOf("!") + 1),
        slot: -1,
        gathered: undefined,
        unsettled: new Set(),
      };
      this.states.set(channel, state);
    }
    return state;
  }

  /**
   * Forgets channels nobody waits on and nothing is claimed for, at most once a second. A channel
   * with receipts not yet applied is kept: its next read must skip those rows.
   */
  private sweep(now: number): void {
    this.nextSweepAt = now + SWEEP_INTERVAL_MS;
    for (const state of this.states.values()) {
      if (!state.claiming && state.unsettled.size === 0 && state.box.isIdle(now)) this.forget(state);
    }
  }

  private forget(state: ChannelState): void {
    if (this.states.get(state.channel) === state) this.states.delete(state.channel);
    this.due.delete(state);
  }

  /** Hands a forgotten channel's claimed messages back: named channels' to the table, the rest nowhere. */
  private release(state: ChannelState): void {
    if (!state.named) return;
    const messages: ClaimedMessage[] = [];
    for (let message = state.box.takeBuffered(); message !== undefined; message = state.box.takeBuffered()) {
      messages.push(message);
    }
    if (messages.length > 0) this.options.putBack(messages);
  }

  /**
   * A receive found its channel dirty. When nothing else is due or under way it is a lone
   * receive (a fresh channel, a ping-pong): it claims now, so its statement reaches the server
   * ahead of whatever the caller does next (a send it is waiting to see, say). Otherwise it
   * joins the batch of this turn.
   */
  private schedule(state: ChannelState): void {
    const alone = this.due.size === 0 && this.inFlight === 0 && !this.kickQueued;
    this.due.add(state);
    if (alone) this.kick();
    else this.kickSoon();
  }

  /**
   * Kicks once the current burst of calls is over: a NOTIFY listing 100 channels, or 10,000
   * receive loops coming back for more after a claim delivered to them, becomes one claim instead
   * of a claim for the first channel, another for the second and one for the rest. setImmediate,
   * not a microtask: a receive loop comes back a few promise hops after its delivery, and all of
   * them must have come back before the batch is made.
   */
  private kickSoon(): void {
    if (this.kickQueued) return;
    this.kickQueued = true;
    setImmediate(() => {
      this.kickQueued = false;
      this.kick();
    });
  }

  /** Named channels can miss a wake-up when another process dies holding a claimed message. */
  private poll(): void {
    for (const state of this.states.values()) {
      if (state.named && state.box.waiting > 0) {
        state.dirty = true;
        this.due.add(state);
      }
    }
    this.kick();
  }

  /**
   * Starts claims for the due channels, up to MAX_CLAIMS_IN_FLIGHT at once: named channels claim
   * as many messages as receives wait; process-local ones read ahead (see READ_AHEAD), asking for
   * as many more rows as they have receipts not yet applied, which the read hands out again.
   */
  private kick(): void {
    while (this.inFlight < MAX_CLAIMS_IN_FLIGHT && !this.closed && this.retryTimer === undefined) {
      const states: ChannelState[] = [];
      const counts: number[] = [];
      let local: boolean | undefined;
      let narrow = false;
      for (const state of this.due) {
        if (state.claiming) continue; // stays due; looked at again when its claim ends
        if (local !== undefined && local === state.named) continue; // the next statement's
        this.due.delete(state);
        const wanted = state.box.waiting;
        if (wanted === 0 || !state.dirty) continue;
        local = !state.named;
        narrow ||= state.narrow;
        state.narrow = false;
        state.dirty = false;
        state.claiming = true;
        states.push(state);
        counts.push(state.named ? Math.min(wanted, MAX_MESSAGES_PER_CHANNEL) : READ_AHEAD + state.unsettled.size);
        // A wide read of process-local channels covers whole ranges of names: all in one.
        if (states.length === (local ? MAX_CHANNELS_PER_READ : MAX_CHANNELS_PER_CLAIM)) break;
      }
      if (states.length === 0) return;
      this.inFlight++;
      const claiming = !local
        ? this.claim(states, counts)
        : states.length >= WIDE_READ && !narrow
          ? this.readRanges(states)
          : this.read(states, counts);
      void claiming.finally(() => {
        this.inFlight--;
        this.kickSoon();
        if (this.inFlight === 0) {
          const waiters = this.idleWaiters;
          this.idleWaiters = [];
          for (const resolve of waiters) resolve();
        }
      });
    }
  }

  /**
   * Reads for process-local channels: rows stay in the table until receipts delete them. The
   * read skips the rows whose receipts were not yet applied when it started: its snapshot may
   * still show them even if their receipts land before it returns.
   */
  private async read(states: ChannelState[], counts: number[]): Promise<void> {
    const skip = this.skipSets(states);
    let rows: ReadRow[];
    try {
      rows = await this.options.read(
        states.map((state) => state.channel),
        counts,
      );
    } catch (error) {
      this.failed(states, error);
      return;
    }
    this.failures = 0;
    const byChannel = groupByChannel(rows);
    for (const [i, state] of states.entries()) {
      const read = byChannel.get(state.channel);
      // A full read may have left more behind.
      if (read !== undefined && read.length === counts[i]) state.dirty = true;
      this.delivered(state, read, skip[i] as ReadonlySet<string>);
    }
  }

  /**
   * read() for many process-local channels: one index range scan per newChannel() prefix among
   * them, taking every message of theirs (rows of the instance's other channels are ignored).
   * A range cut short at RANGE_READ_LIMIT leaves the channels from the cut on dirty and narrow.
   */
  private async readRanges(states: ChannelState[]): Promise<void> {
    // Receipts under way would have their rows read again (and skipped): wait for them first.
    if (this.options.receipts.busy) await this.options.receipts.flush();
    const skip = this.skipSets(states);
    const lows: string[] = [];
    for (const [i, state] of states.entries()) {
      state.slot = i;
      if (!lows.includes(state.low)) lows.push(state.low);
    }
    lows.sort();
    // "!" + 1 is '"': the range holds every name that starts with `low`, byte for byte.
    const highs = lows.map((low) => `${low.slice(0, -1)}"`);
    let rows: ReadRow[];
    try {
      rows = await this.options.readRange(lows, highs, RANGE_READ_LIMIT);
    } catch (error) {
      this.failed(states, error);
      return;
    }
    this.failures = 0;
    // Rows come in table order: gather each channel's (most often one) on its state, then hand
    // them out oldest first.
    const gathered: ChannelState[] = [];
    let channel: string | undefined;
    let state: ChannelState | undefined;
    for (const row of rows) {
      if (row.channel !== channel) {
        channel = row.channel;
        state = this.states.get(channel);
        if (state !== undefined && states[state.slot] !== state) state = undefined; // not in this read
      }
      if (state === undefined) continue;
      if (state.gathered === undefined) {
        state.gathered = row;
        gathered.push(state);
      } else if (Array.isArray(state.gathered)) state.gathered.push(row);
      else state.gathered = [state.gathered, row];
    }
    for (const each of gathered) {
      const read = each.gathered as ReadRow | ReadRow[];
      each.gathered = undefined;
      const skipped = skip[each.slot] as ReadonlySet<string>;
      if (!Array.isArray(read)) this.deliverRead(each, read, skipped);
      else for (const row of read.sort(byId)) this.deliverRead(each, row, skipped);
    }
    // A read cut short took an arbitrary part of the range: read each channel alone next time.
    const cut = rows.length >= RANGE_READ_LIMIT;
    for (const each of states) {
      each.slot = -1;
      if (cut) {
        each.dirty = true;
        each.narrow = true;
      }
      this.delivered(each, undefined, NOTHING);
    }
  }

  /** One row of a read for `state`, the channel's current state: to a receive, or the receipts. */
  private deliverRead(state: ChannelState, row: ReadRow, skip: ReadonlySet<string>): void {
    if (skip.has(row.id) || state.unsettled.has(row.id)) return; // taken already
    if (row.payload === null) this.options.receipts.add(state, row.id, row.row);
    else state.box.deliver(row as ClaimedMessage, row.expiresAt);
  }

  /** The rows each read must skip: those whose receipts were not yet applied when it started. */
  private skipSets(states: ChannelState[]): ReadonlySet<string>[] {
    return states.map((state) => (state.unsettled.size === 0 ? NOTHING : new Set(state.unsettled)));
  }

  /** Hands a read's messages of one channel to its receives (or buffer); expired ones to the receipts. */
  private delivered(state: ChannelState, read: ReadRow[] | undefined, skip: ReadonlySet<string>): void {
    state.claiming = false;
    const current = this.states.get(state.channel) === state;
    if (read !== undefined) {
      if (read.length > 1) read.sort(byId);
      for (const message of read) {
        if (skip.has(message.id) || state.unsettled.has(message.id)) continue; // taken already
        if (message.payload === null) this.options.receipts.add(state, message.id, message.row);
        else if (current) state.box.deliver(message as ClaimedMessage, message.expiresAt);
      }
    }
    if (current && state.dirty && state.box.waiting > 0) this.due.add(state);
  }

  private async claim(states: ChannelState[], counts: number[]): Promise<void> {
    let rows: ClaimRow[];
    try {
      rows = await this.options.claim(
        states.map((state) => state.channel),
        counts,
      );
    } catch (error) {
      this.failed(states, error);
      return;
    }
    this.failures = 0;
    const byChannel = new Map<string, ClaimedMessage[]>();
    const more = new Set<string>();
    for (const row of rows) {
      if (row.id === null) {
        more.add(row.channel);
        continue;
      }
      const list = byChannel.get(row.channel);
      if (list === undefined) byChannel.set(row.channel, [row]);
      else list.push(row);
    }
    for (const state of states) {
      state.claiming = false;
      const claimed = byChannel.get(state.channel);
      if (claimed !== undefined) {
        if (claimed.length > 1) claimed.sort(byId);
        for (const message of claimed) state.box.deliver(message, message.expiresAt);
      }
      if (more.has(state.channel)) state.dirty = true;
      if (this.states.get(state.channel) !== state) this.release(state);
      else if (state.dirty && state.box.waiting > 0) this.due.add(state);
    }
  }

  /** A claim or read failed: fail its receives when it will keep failing, else try again later. */
  private failed(states: ChannelState[], error: unknown): void {
    if (!isTransient(error)) {
      // A statement the server will keep refusing (the tables dropped under the layer, say):
      // waiting would be forever, so the receives fail with the reason.
      const failure = backendUnavailable("receive", error);
      for (const state of states) {
        state.claiming = false;
        state.dirty = true;
        this.forget(state);
        state.box.clear(failure);
      }
      return;
    }
    for (const state of states) {
      state.claiming = false;
      state.dirty = true;
      this.due.add(state);
    }
    this.retryLater(error);
  }

  /** A claim failed (the server is away, most likely): try again later, backing off. */
  private retryLater(error: unknown): void {
    if (this.closed || this.retryTimer !== undefined) return;
    const delay = Math.min(this.options.retryDelayMs * 2 ** this.failures, this.options.maxRetryDelayMs);
    this.failures++;
    debug("claim failed, retrying in %d ms: %s", delay, (error as Error)?.message ?? error);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.kick();
    }, delay);
  }
}

function groupByChannel(rows: ReadRow[]): Map<string, ReadRow[]> {
  const byChannel = new Map<string, ReadRow[]>();
  for (const row of rows) {
    const list = byChannel.get(row.channel);
    if (list === undefined) byChannel.set(row.channel, [row]);
    else list.push(row);
  }
  return byChannel;
}

/** Orders messages by id: a bigint as a decimal string, compared without parsing. */
function byId(a: { id: string }, b: { id: string }): number {
  return a.id.length - b.id.length || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
