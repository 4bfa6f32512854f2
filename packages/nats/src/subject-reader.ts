import { BackendUnavailable } from "@channel-layers/core";
import { AckPolicy, DeliverPolicy } from "@nats-io/jetstream";
import { createInbox, type Msg } from "@nats-io/transport-node";
import { parseAckSubject } from "./delivery-info.js";
import { nanos } from "./jetstream.js";
import type { NatsTransport } from "./transport.js";

/** A read with nothing more to deliver ends after this long without a message (see below). */
const IDLE_HEARTBEAT_MS = 100;

/** One message a read delivered. */
export interface ReadMessage {
  seq: number;
  /** When the stream stored it (server clock, ms epoch). */
  storedAt: number;
  data: Uint8Array;
}

/** What a read found: the messages in stream order, and the server's clock when the read began. */
export interface SubjectRead {
  serverNow: number;
  messages: ReadMessage[];
}

/**
 * Reads every message on `filter` in `stream` (from `startSeq`, else from the first) with an
 * ephemeral push consumer: one round trip, as the server pushes the messages while it answers the
 * creation. Undefined when the stream does not exist. Used for a group's presence entries and
 * history, which a subject holds at most a bounded number of.
 */
export async function readSubject(
  transport: NatsTransport,
  stream: string,
  filter: string,
  startSeq?: number,
): Promise<SubjectRead | undefined> {
  const inbox = createInbox();
  const messages: ReadMessage[] = [];
  let finished: (() => void) | undefined;
  let last = false;
  const finish = () => {
    last = true;
    finished?.();
  };
  // Subscribed before the consumer exists: the server may deliver before it answers the creation.
  const subscription = transport.subscribe(inbox, (msg: Msg) => {
    if (msg.reply === undefined || !msg.reply.startsWith("$JS.ACK.")) {
      // An idle heartbeat: nothing more to deliver, though the consumer's pending count may not
      // say 0 (2.9 does not always count messages the stream removed meanwhile).
      if (msg.headers?.code === 100) finish();
      return;
    }
    const info = parseAckSubject(msg.reply);
    messages.push({ seq: info.streamSequence, storedAt: info.storedAt, data: msg.data });
    if (info.pending === 0) finish();
  });
  const { settings } = transport;
  let consumer: Awaited<ReturnType<typeof transport.js.createEphemeralConsumer>>;
  try {
    consumer = await transport.js.createEphemeralConsumer(stream, {
      deliver_subject: inbox,
      filter_subject: filter,
      ...(startSeq === undefined
        ? { deliver_policy: DeliverPolicy.All }
        : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startSeq }),
      ack_policy: AckPolicy.None,
      idle_heartbeat: nanos(IDLE_HEARTBEAT_MS),
      mem_storage: true,
      // Removed by the server should this instance die before deleting it.
      inactive_threshold: nanos(Math.max(10_000, settings.requestTimeoutMs * 2)),
    });
  } catch (error) {
    transport.unsubscribe(subscription);
    throw error;
  }
  if (consumer === undefined) {
    transport.unsubscribe(subscription);
    return undefined;
  }
  try {
    if (consumer.pending > 0 && !last) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new BackendUnavailable(
                `NATS delivered ${messages.length} of the ${consumer.pending} messages of ${filter} but no more within ${settings.requestTimeoutMs} ms`,
              ),
            ),
          settings.requestTimeoutMs,
        );
        finished = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    transport.unsubscribe(subscription);
    transport.js.dropConsumer(stream, consumer.name);
  }
  return { serverNow: consumer.createdAt, messages };
}
