import type { Message } from "@channel-layers/core";
import {
  Backoff,
  type BackoffOptions,
  coarseNow,
  isProcessLocal,
  Mailbox,
  type ReceivedCounter,
} from "@channel-layers/core/backend";
import type { ChannelState, MessageSource } from "./channel-state.js";
import { isTransient } from "./errors.js";
import { LocalReads } from "./local-reads.js";
import type { Maintenance } from "./maintenance.js";
import { NamedClaims } from "./named-claims.js";
import { Receipts } from "./receipts.js";
import type { PostgresTransport } from "./transport.js";

export interface ReceiversOptions {
  /** Milliseconds between re-checks of named channels with waiting receives. */
  pollIntervalMs: number;
  /** Retries of fetches that failed. */
  backoff: BackoffOptions;
}

/** Fetches in flight at once, each for a different set of channels. */
const MAX_FETCHES_IN_FLIGHT = 2;
const SWEEP_INTERVAL_MS = 1000;

/**
 * The receiving half of one layer instance, and the one scheduler of its fetches. A receive waits
 * in its channel's mailbox; every channel with waiting receives and possibly messages in the table
 * ("dirty") is fetched for in one batch per turn of the event loop: claims for named channels,
 * reads for process-local ones. A message fetched after its receive was aborted waits in the
 * mailbox for the next receive on that channel, keeping its place.
 */
export class Receivers {
  private readonly states = new Map<string, ChannelState>();
  private readonly due = new Set<ChannelState>();
  private readonly named: NamedClaims;
  private readonly local: LocalReads;
  private readonly receipts: Receipts;
  private readonly backoff: Backoff;
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly pollTimer: NodeJS.Timeout;
  private nextSweepAt = 0;
  private kickQueued = false;

  constructor(
    private readonly transport: PostgresTransport,
    maintenance: Maintenance,
    private readonly counter: ReceivedCounter,
    options: ReceiversOptions,
  ) {
    this.receipts = new Receipts(transport, maintenance, options.backoff);
    this.named = new NamedClaims(transport, maintenance);
    this.local = new LocalReads(transport, this.receipts);
    this.backoff = new Backoff(options.backoff);
    // Only a claimer that died holding a message can leave a named channel with no wake-up.
    this.pollTimer = setInterval(() => this.recheck(this.named), options.pollIntervalMs);
    this.pollTimer.unref();
  }

  /** Channels with local state now (waiting receives or fetched messages). */
  get size(): number {
    return this.states.size;
  }

  /** The next message of `channel` (whose capacity is `capacity`), waiting for one. */
  take(channel: string, capacity: number, signal: AbortSignal | undefined): Promise<Message> {
    const state = this.open(channel, capacity);
    const buffered = state.box.takeBuffered();
    if (buffered !== undefined) {
      this.counter.received++;
      return Promise.resolve(state.source.taken(state, buffered));
    }
    const taking = state.box.take(signal);
    if (state.dirty) this.schedule(state);
    return taking.then((held) => state.source.taken(state, held));
  }

  /**
   * A NOTIFY on `notifyChannel`: its payload lists the channels it is for, or is empty for every
   * channel of the kind that NOTIFY channel wakes (named on the shared one, process-local on ours).
   */
  wake(notifyChannel: string, payload: string): void {
    if (payload === "") this.recheck(notifyChannel === this.transport.names.notifyBase ? this.named : this.local);
    else if (!payload.includes(" ")) this.notified(payload);
    else for (const channel of payload.split(" ")) this.notified(channel);
  }

  /** After the LISTEN connection was down: wake-ups may have been missed, so look at everything again. */
  recheckAll(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.backoff.reset();
    this.recheck(this.named);
    this.recheck(this.local);
  }

  /** Rejects the channel's waiting receives with `error`; its fetched messages go back (named) or stay in the table. */
  discard(channel: string, error: unknown): void {
    const state = this.states.get(channel);
    if (state === undefined) return;
    this.forget(state);
    state.source.release(state);
    state.box.clear(error);
  }

  /** Drops every fetched message not yet taken; waiting receives keep waiting. */
  dropBuffered(): void {
    for (const state of this.states.values()) state.box.dropBuffered();
  }

  /**
   * Stops fetching, waits for the fetches in flight and returns the named channels' messages to
   * the table. Waiting receives stay pending until rejectAll(), which the layer calls last, right
   * before its close() resolves, so a caller awaiting close() never sees an unhandled rejection.
   */
  async stop(): Promise<void> {
    this.closed = true;
    clearInterval(this.pollTimer);
    clearTimeout(this.retryTimer);
    this.due.clear();
    if (this.inFlight > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    for (const state of this.states.values()) state.source.release(state);
    await this.receipts.close();
  }

  /** Rejects every waiting receive with `error` and forgets every channel. */
  rejectAll(error: unknown): void {
    const states = [...this.states.values()];
    for (const state of states) this.forget(state);
    for (const state of states) state.box.clear(error);
  }

  private open(channel: string, capacity: number): ChannelState {
    const now = coarseNow();
    if (now >= this.nextSweepAt) this.sweep(now);
    let state = this.states.get(channel);
    if (state === undefined) {
      state = {
        channel,
        source: isProcessLocal(channel) ? this.local : this.named,
        box: new Mailbox(this.counter),
        capacity,
        dirty: true,
        fetching: false,
        forgotten: false,
        narrow: false,
        unsettled: new Set(),
      };
      this.states.set(channel, state);
    }
    return state;
  }

  /** Forgets idle channels at most once a second; one with receipts under way is kept, its next read must skip them. */
  private sweep(now: number): void {
    this.nextSweepAt = now + SWEEP_INTERVAL_MS;
    for (const state of this.states.values()) {
      if (!state.fetching && state.unsettled.size === 0 && state.box.isIdle(now)) this.forget(state);
    }
  }

  private forget(state: ChannelState): void {
    state.forgotten = true;
    if (this.states.get(state.channel) === state) this.states.delete(state.channel);
    this.due.delete(state);
  }

  private notified(channel: string): void {
    const state = this.states.get(channel);
    if (state === undefined) return;
    state.dirty = true;
    if (state.box.waiting > 0) this.schedule(state);
  }

  /** Every channel of `source` may have messages: fetch for those with waiting receives. */
  private recheck(source: MessageSource): void {
    for (const state of this.states.values()) {
      if (state.source !== source) continue;
      state.dirty = true;
      if (state.box.waiting > 0) this.due.add(state);
    }
    this.kick();
  }

  /**
   * A lone receive (nothing else due or under way: a fresh channel, a ping-pong) fetches at once,
   * so its statement reaches the server ahead of whatever its caller does next; otherwise it
   * joins this turn's batch.
   */
  private schedule(state: ChannelState): void {
    const alone = this.due.size === 0 && this.inFlight === 0 && !this.kickQueued;
    this.due.add(state);
    if (alone) this.kick();
    else this.kickSoon();
  }

  /**
   * Kicks once the current burst of calls is over (setImmediate, not a microtask: receive loops
   * come back a few promise hops after their delivery), so a burst makes one statement.
   */
  private kickSoon(): void {
    if (this.kickQueued) return;
    this.kickQueued = true;
    setImmediate(() => {
      this.kickQueued = false;
      this.kick();
    });
  }

  /** Starts fetches for the due channels, one source per statement, up to MAX_FETCHES_IN_FLIGHT at once. */
  private kick(): void {
    while (this.inFlight < MAX_FETCHES_IN_FLIGHT && !this.closed && this.retryTimer === undefined) {
      const states: ChannelState[] = [];
      const counts: number[] = [];
      let source: MessageSource | undefined;
      for (const state of this.due) {
        if (state.fetching) continue; // stays due; looked at again when its fetch ends
        if (source !== undefined && state.source !== source) continue; // the next statement's
        this.due.delete(state);
        if (state.box.waiting === 0 || !state.dirty) continue;
        source = state.source;
        state.dirty = false;
        state.fetching = true;
        states.push(state);
        counts.push(source.wanted(state));
        if (states.length === source.maxChannels) break;
      }
      if (source === undefined) return;
      this.inFlight++;
      void this.fetch(source, states, counts).finally(() => {
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

  private async fetch(source: MessageSource, states: ChannelState[], counts: number[]): Promise<void> {
    try {
      await source.fetch(states, counts);
    } catch (error) {
      this.failed(states, error);
      return;
    }
    this.backoff.reset();
    for (const state of states) {
      state.fetching = false;
      if (state.forgotten) state.source.release(state);
      else if (state.dirty && state.box.waiting > 0) this.due.add(state);
    }
  }

  /** A fetch failed: its receives fail when it will keep failing, else it is tried again later. */
  private failed(states: ChannelState[], error: unknown): void {
    for (const state of states) {
      state.fetching = false;
      state.dirty = true;
    }
    if (!isTransient(error)) {
      // A statement the server will keep refusing (the tables dropped under the layer, say).
      const failure = this.transport.unavailable("receive", error);
      for (const state of states) {
        this.forget(state);
        state.box.clear(failure);
      }
      return;
    }
    for (const state of states) if (!state.forgotten) this.due.add(state);
    this.transport.diagnostics.backgroundError(error, { work: "receive", channels: states.length });
    if (this.closed || this.retryTimer !== undefined) return;
    // Not unref'd: a worker that only waits on receive() must not exit while the server is away.
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.kick();
    }, this.backoff.next());
  }
}
