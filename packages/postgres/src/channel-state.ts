import type { Message } from "@channel-layers/core";
import type { Mailbox } from "@channel-layers/core/backend";
import type { ReceiptOwner } from "./receipts.js";

/** A message taken from the table for a receive, decoded, with what it takes to settle it or put it back. */
export interface HeldMessage {
  readonly id: string;
  /** Milliseconds since the epoch, by the server's clock. */
  readonly expiresAt: number;
  readonly message: Message;
  /** The row's ctid, for the receipt of a message read from a process-local channel; "" when claimed. */
  readonly row: string;
  /** The encoded message, to put a claimed one back; undefined when read. */
  readonly payload: Buffer | undefined;
}

/** One channel this instance receives on: its waiting receives and the messages fetched for them. */
export interface ChannelState extends ReceiptOwner {
  readonly channel: string;
  /** Claims for a named channel, reads for a process-local one. */
  readonly source: MessageSource;
  /** Messages fetched for it, and its waiting receives. */
  readonly box: Mailbox<HeldMessage>;
  /** Capacity of the channel, as the layer's rules give it. */
  readonly capacity: number;
  /**
   * The table may hold messages for it that no fetch has looked for yet: set by every wake-up,
   * cleared when a fetch starts, so an idle channel costs no queries until the next NOTIFY.
   */
  dirty: boolean;
  /** A fetch for it is in flight. Never two at once: their results could arrive out of order. */
  fetching: boolean;
  /** Discarded or swept: what a fetch still brings for it goes back (claims) or stays in the table (reads). */
  forgotten: boolean;
  /** A wide read was cut short before it: read it alone next time (process-local channels). */
  narrow: boolean;
}

/** Where one kind of channel gets its messages: claims (named channels) or reads (process-local ones). */
export interface MessageSource {
  /** Channels per statement at most. */
  readonly maxChannels: number;
  /** How many messages to ask for `state` in the next fetch. */
  wanted(state: ChannelState): number;
  /**
   * Fetches up to `counts[i]` messages for `states[i]` into their mailboxes, setting `dirty` on
   * those that may have more; rejects with pg's error.
   */
  fetch(states: ChannelState[], counts: number[]): Promise<void>;
  /** A receive took `held` from `state`: its message, once whatever must come first has (a receipt). */
  taken(state: ChannelState, held: HeldMessage): Message | Promise<Message>;
  /** `state` was forgotten: hands back the messages it still holds. */
  release(state: ChannelState): void;
}

/** Orders rows by id: a bigint as a decimal string, compared without parsing. */
export function byId(a: { id: string }, b: { id: string }): number {
  return a.id.length - b.id.length || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Rows by channel, in the order they came. */
export function groupByChannel<R extends { channel: string }>(rows: readonly R[]): Map<string, R[]> {
  const byChannel = new Map<string, R[]>();
  for (const row of rows) {
    const list = byChannel.get(row.channel);
    if (list === undefined) byChannel.set(row.channel, [row]);
    else list.push(row);
  }
  return byChannel;
}
