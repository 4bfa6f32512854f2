import type { Message } from "@channel-layers/core";
import { byId, type ChannelState, groupByChannel, type HeldMessage, type MessageSource } from "./channel-state.js";
import type { Maintenance } from "./maintenance.js";
import type { PostgresTransport } from "./transport.js";

/** A row a claim returns: a message, or (id null) word that the channel holds more than was taken. */
type ClaimRow = ClaimedRow | { channel: string; id: null; expiresAt: null; payload: null };
type ClaimedRow = { channel: string; id: string; expiresAt: number; payload: Buffer };

/** Messages per channel per claim at most: bounds one statement's work. */
const MAX_MESSAGES_PER_CHANNEL = 100;
/** From this many channels on, a claim scans all of their rows at once rather than probing each. */
const WIDE_CLAIM = 64;

/**
 * Receiving on named channels, which other processes may receive too: a claim deletes the oldest
 * messages, as many as receives wait, and a message whose receive went away goes back under its id.
 */
export class NamedClaims implements MessageSource {
  readonly maxChannels = 5000;

  constructor(
    private readonly transport: PostgresTransport,
    private readonly maintenance: Maintenance,
  ) {}

  wanted(state: ChannelState): number {
    return Math.min(state.box.waiting, MAX_MESSAGES_PER_CHANNEL);
  }

  async fetch(states: ChannelState[], counts: number[]): Promise<void> {
    const { claim, claimWide } = this.transport.statements;
    const channels = states.map((state) => state.channel);
    const result = await this.transport.query<ClaimRow>(states.length >= WIDE_CLAIM ? claimWide : claim, [
      channels,
      counts,
    ]);
    const byChannel = groupByChannel(result.rows);
    let claimed = 0;
    for (const state of states) {
      const rows = byChannel.get(state.channel);
      if (rows === undefined) continue;
      const taken: ClaimedRow[] = [];
      for (const row of rows) {
        if (row.id === null)
          state.dirty = true; // there is more
        else taken.push(row);
      }
      if (taken.length > 1) taken.sort(byId);
      claimed += taken.length;
      for (const row of taken) {
        const message = this.transport.decode(row.payload, state.channel);
        // Dropped (and deleted): its receive waits on, and the channel may hold more.
        if (message === undefined) state.dirty = true;
        else state.box.deliver(held(row, message), row.expiresAt);
      }
    }
    this.maintenance.received(claimed);
  }

  taken(_state: ChannelState, held: HeldMessage): Message {
    return held.message;
  }

  release(state: ChannelState): void {
    const messages: HeldMessage[] = [];
    for (let message = state.box.takeBuffered(); message !== undefined; message = state.box.takeBuffered()) {
      messages.push(message);
    }
    if (messages.length > 0) this.putBack(state.channel, messages);
  }

  /** Returns claimed messages nobody took to the table, in the background (close() waits for it). */
  private putBack(channel: string, messages: HeldMessage[]): void {
    const target = this.transport.notifyChannelFor(channel);
    const work = (async () => {
      for (const [i, message] of messages.entries()) {
        try {
          await this.transport.query(this.transport.statements.putBack, [
            message.id,
            channel,
            message.expiresAt,
            message.payload,
            target,
          ]);
        } catch (error) {
          this.transport.diagnostics.lost(messages.length - i, { channel, work: "put back" }, error);
          return;
        }
      }
    })();
    this.maintenance.track(work);
  }
}

function held(row: ClaimedRow, message: Message): HeldMessage {
  return { id: row.id, expiresAt: row.expiresAt, message, row: "", payload: row.payload };
}
