import { BackendUnavailable, ChannelFull, type Message } from "@channel-layers/core";
import { Mailbox, type MessageSerializer } from "@channel-layers/core/backend";
import { createInbox, type Msg, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import type { BlobStore } from "./blobs.js";
import { type DeliveryInfo, parseAckSubject, RecentDeliveries } from "./delivery-info.js";
import { FrameKind, FrameWriter } from "./frames.js";
import {
  ApiCode,
  duplicateWindowFor,
  type JetStreamCalls,
  NoStream,
  nanos,
  refusedByServer,
  StreamPublishError,
  unavailable,
} from "./jetstream.js";
import type { Publisher } from "./publisher.js";
import { StreamsOnce } from "./streams-once.js";
import type { SubjectMap } from "./subjects.js";

/** The one durable pull consumer of each channel stream, shared by every receiving instance. */
const CONSUMER = "receivers";
/** A pull request lapses after this long; the layer then asks again if anyone still waits. */
const PULL_EXPIRES_MS = 20_000;
/** How long a receive waits before asking again for a consumer the server did not answer about. */
const RETRY_MS = 500;
/** Streams remembered as created before the memory is cleared (named channels are few). */
const ENSURED_LIMIT = 10_000;

const ACK = Buffer.from("+ACK");
const NAK = Buffer.from("-NAK");
const IN_PROGRESS = Buffer.from("+WPI");
/** A message that arrives after its receive gave up waits this long for the next local receive. */
const HOLD_MS = 1000;

/** A message pulled for this instance: handed to a receive, then acknowledged on `reply`. */
interface Delivery {
  message: Message;
  reply: string;
  info: DeliveryInfo;
  /** Where the channel remembers what it handed out. */
  recent: RecentDeliveries;
}

/** A pull request not yet fully answered. */
interface Pull {
  readonly id: number;
  remaining: number;
  readonly deadline: number;
}

/** One named channel this instance receives on. */
interface Receiving {
  readonly channel: string;
  readonly stream: string;
  /**
   * Receives waiting here, and messages that arrived for a receive that had given up meanwhile
   * (held for the next one for HOLD_MS, then handed back to the server).
   */
  readonly box: Mailbox<Delivery>;
  /**
   * This channel's pull requests, oldest first. A delivered message carries its stream subject,
   * not the request's inbox, so it is counted against the oldest request: the server serves one
   * consumer's waiting requests in order. Only a request's end (408, 409) names the request.
   */
  readonly pulls: Pull[];
  /** Messages asked for in pull requests and not yet arrived. */
  outstanding: number;
  /** Large messages being fetched for a waiting receive. */
  fetching: number;
  /** The consumer exists (as far as we know). */
  ready: boolean;
  consumer: Promise<void> | undefined;
  releaseTimer: NodeJS.Timeout | undefined;
  readonly recent: RecentDeliveries;
}

export interface DurableChannelsOptions {
  expiryMs: number;
  ackWaitMs: number;
  capacityFor(channel: string): number;
  serializer: MessageSerializer;
  /** Bodies above this many bytes go to the blob store. */
  chunkSize: number;
  connected(): boolean;
}

/**
 * Named channels (`thumbnails-generate`): each is a JetStream work-queue stream of its own, so
 * a message survives a server restart, is kept until one receiver acknowledges it, and expires
 * after `expiry` (the stream's max_age). The stream's max_msgs with discard "new" is the
 * channel's capacity, enforced by the server, so ChannelFull holds across every sender.
 *
 * Receiving: one durable pull consumer per channel, shared by every instance. An instance asks
 * for exactly as many messages as it has receives waiting, so no instance takes messages another
 * could have. A message that arrives after its receive gave up (an abort racing the pull) is held
 * for the next receive here, which keeps send order for a receive loop that aborts and goes on,
 * and handed back (NAK) if none comes within HOLD_MS. A message is acknowledged when a receive
 * gets it.
 */
export class DurableChannels {
  private readonly receiving = new Map<string, Receiving>();
  /** Pull request id -> the channel it asks for. */
  private readonly pullOwners = new Map<number, Receiving>();
  private readonly pullInbox = createInbox();
  private readonly subscription: Subscription;
  private readonly streams = new StreamsOnce(ENSURED_LIMIT);
  private nextPull = 0;
  /** Messages found expired on arrival (the server's max_age had not dropped them yet). */
  expired = 0;
  /** Redeliveries of messages already received here (their acknowledgement was lost), dropped. */
  duplicatesDropped = 0;

  constructor(
    nc: NatsConnection,
    private readonly publisher: Publisher,
    private readonly js: JetStreamCalls,
    private readonly subjects: SubjectMap,
    private readonly blobs: BlobStore,
    private readonly options: DurableChannelsOptions,
  ) {
    this.subscription = nc.subscribe(`${this.pullInbox}.*`, { callback: (_error, msg) => this.arrived(msg) });
  }

  get channelCount(): number {
    return this.receiving.size;
  }

  /** Stores an encoded message in the channel's stream; ChannelFull when the stream holds `capacity`. */
  async publish(channel: string, body: Uint8Array): Promise<void> {
    const frame =
      body.byteLength > this.options.chunkSize
        ? await this.blobs.put(body)
        : new FrameWriter(1 + body.byteLength).u8(FrameKind.durable).raw(body).bytes;
    const subject = this.subjects.channel(channel);
    try {
      await this.js.publish(subject, frame);
    } catch (error) {
      if (!(error instanceof NoStream)) throw this.publishError(channel, error);
      // First send to this channel (or its stream was removed): create the stream, then retry.
      await this.ensureStream(channel, true);
      await this.js.publish(subject, frame).catch((again: unknown) => {
        throw this.publishError(channel, again);
      });
    }
  }

  /** The next message of `channel`, pulled for this receive. */
  receive(channel: string, signal: AbortSignal | undefined): Promise<Message> {
    let state = this.receiving.get(channel);
    if (state === undefined) {
      state = {
        channel,
        stream: this.subjects.channelStream(channel),
        box: new Mailbox<Delivery>(),
        pulls: [],
        outstanding: 0,
        fetching: 0,
        ready: false,
        consumer: undefined,
        releaseTimer: undefined,
        recent: new RecentDeliveries(),
      };
      this.receiving.set(channel, state);
    }
    const taken = state.box.take(signal);
    this.refill(state);
    return taken.then(this.acknowledge);
  }

  /** Rejects this instance's receives waiting on `channel` (discardChannel); the stream keeps its messages. */
  discard(channel: string, error: unknown): void {
    const state = this.receiving.get(channel);
    if (state) this.clear(state, error);
  }

  /** After a reconnect the server may have forgotten every pull request: ask again. */
  reconnected(): void {
    this.pullOwners.clear();
    for (const state of this.receiving.values()) {
      state.pulls.length = 0;
      state.outstanding = 0;
      this.refill(state);
    }
  }

  /** Hands every held message back to the server (closing). */
  releaseAll(): void {
    for (const state of this.receiving.values()) {
      if (state.releaseTimer) clearTimeout(state.releaseTimer);
      this.release(state);
    }
  }

  close(error: unknown): void {
    for (const state of this.receiving.values()) this.clear(state, error);
    this.receiving.clear();
    this.pullOwners.clear();
    if (!this.subscription.isClosed()) this.subscription.unsubscribe();
  }

  /** Creates the channel's stream unless this instance knows it exists. */
  ensureStream(channel: string, again = false): Promise<void> {
    return this.streams.ensure(
      channel,
      () =>
        this.js.addStream({
          name: this.subjects.channelStream(channel),
          description: `channel-layers ${this.subjects.prefix}: channel ${channel}`,
          subjects: [this.subjects.channel(channel)],
          retention: "workqueue",
          storage: "file",
          max_msgs: this.options.capacityFor(channel),
          discard: "new",
          max_age: nanos(this.options.expiryMs),
          duplicate_window: duplicateWindowFor(this.options.expiryMs),
          num_replicas: 1,
        }),
      again,
    );
  }

  /** Asks the server for as many messages as there are receives waiting and not yet served. */
  private refill(state: Receiving): void {
    const needed = state.box.waiting - state.outstanding - state.fetching;
    if (needed <= 0 || !this.options.connected()) return;
    if (!state.ready) {
      state.consumer ??= this.ensureConsumer(state).then(
        () => {
          state.ready = true;
          state.consumer = undefined;
          this.refill(state);
        },
        (error: unknown) => {
          state.consumer = undefined;
          if (this.receiving.get(state.channel) !== state) return;
          // JetStream said no (no JetStream, no permission): tell the waiting receives rather
          // than let them hang. No answer (the server is down): they wait, and it is tried again.
          if (refusedByServer(error)) this.clear(state, unavailable("receive", error));
          else setTimeout(() => this.refill(state), RETRY_MS).unref();
        },
      );
      return;
    }
    const id = ++this.nextPull;
    const pull: Pull = { id, remaining: needed, deadline: Date.now() + PULL_EXPIRES_MS };
    state.pulls.push(pull);
    this.pullOwners.set(id, state);
    state.outstanding += needed;
    this.publisher.publish(
      `$JS.API.CONSUMER.MSG.NEXT.${state.stream}.${CONSUMER}`,
      Buffer.from(JSON.stringify({ batch: needed, expires: nanos(PULL_EXPIRES_MS) })),
      `${this.pullInbox}.${id}`,
      undefined,
      // Closed connection: close() rejects the receives.
      () => this.ended(state, pull),
    );
  }

  /** Forgets a pull request the server has finished with, and what it still asked for. */
  private ended(state: Receiving, pull: Pull): void {
    const index = state.pulls.indexOf(pull);
    if (index !== -1) state.pulls.splice(index, 1);
    this.pullOwners.delete(pull.id);
    state.outstanding -= pull.remaining;
  }

  /** Counts a delivered message against the oldest pull request, dropping lapsed requests first. */
  private served(state: Receiving): void {
    const now = Date.now();
    // A request well past its expiry whose 408 never came (lost in a reconnect) asks for nothing.
    while (state.pulls.length > 1 && (state.pulls[0] as Pull).deadline + PULL_EXPIRES_MS < now) {
      this.ended(state, state.pulls[0] as Pull);
    }
    const oldest = state.pulls[0];
    if (oldest === undefined) return;
    oldest.remaining--;
    state.outstanding--;
    if (oldest.remaining === 0) this.ended(state, oldest);
  }

  private async ensureConsumer(state: Receiving): Promise<void> {
    await this.ensureStream(state.channel);
    const config = {
      durable_name: CONSUMER,
      ack_policy: "explicit" as const,
      ack_wait: nanos(this.options.ackWaitMs),
      deliver_policy: "all" as const,
      max_deliver: -1,
      max_ack_pending: -1,
    };
    try {
      await this.js.addConsumer(state.stream, config);
    } catch (error) {
      if (!(error instanceof Error && "code" in error && error.code === ApiCode.streamNotFound)) {
        // Another instance made the consumer with other options (its ackWait): use that one.
        if (await this.js.consumerExists(state.stream, CONSUMER)) return;
        throw error;
      }
      await this.ensureStream(state.channel, true);
      await this.js.addConsumer(state.stream, config);
    }
  }

  private arrived(msg: Msg): void {
    if (msg.data.length === 0 && msg.headers && msg.headers.code >= 100) {
      // A status on the request's own inbox subject: 408 the pull lapsed, 409 it was cut short
      // (consumer deleted, too many waiting); either way it asks for nothing more.
      const id = Number(msg.subject.slice(this.pullInbox.length + 1));
      const state = this.pullOwners.get(id);
      const pull = state?.pulls.find((candidate) => candidate.id === id);
      if (state === undefined || pull === undefined || msg.headers.code === 100) return;
      this.ended(state, pull);
      if (msg.headers.code === 409) state.ready = false;
      this.refill(state);
      return;
    }
    const reply = msg.reply;
    const channel = this.subjects.channelOf(msg.subject);
    const state = channel === undefined ? undefined : this.receiving.get(channel);
    if (!reply) return;
    if (state) this.served(state);
    const info = parseAckSubject(reply);
    if (Date.now() - info.storedAt >= this.options.expiryMs) {
      this.expired++;
      this.publisher.publish(reply, ACK);
    } else if (state === undefined) {
      this.publisher.publish(reply, NAK);
    } else if (state.recent.has(info)) {
      this.duplicatesDropped++;
      this.publisher.publish(reply, ACK);
    } else if (msg.data[0] === FrameKind.blobReference) {
      this.fetchLarge(state, msg.data.slice(), reply, info);
    } else {
      this.handOver(state, msg.data.subarray(1), reply, info);
    }
    if (state) this.refill(state);
  }

  /** Acknowledges a delivery as a receive takes it. */
  private readonly acknowledge = (delivery: Delivery): Message => {
    delivery.recent.add(delivery.info);
    this.publisher.publish(delivery.reply, ACK);
    return delivery.message;
  };

  /** Gives a message to the longest-waiting receive, or holds it for the next one. */
  private handOver(state: Receiving, body: Uint8Array, reply: string, info: DeliveryInfo): void {
    let message: Message;
    try {
      message = this.options.serializer.decode(body);
    } catch {
      this.publisher.publish(reply, ACK); // Not ours to read: drop it rather than redeliver it forever.
      return;
    }
    const waiting = state.box.waiting > 0;
    state.box.deliver({ message, reply, info, recent: state.recent }, Number.POSITIVE_INFINITY);
    if (!waiting) state.releaseTimer ??= setTimeout(() => this.release(state), HOLD_MS);
  }

  /** Hands the held messages back to the server, for whichever instance asks next. */
  private release(state: Receiving): void {
    state.releaseTimer = undefined;
    for (let held = state.box.takeBuffered(); held; held = state.box.takeBuffered())
      this.publisher.publish(held.reply, NAK);
  }

  /** Rejects the channel's waiting receives with `error`, handing held messages back first. */
  private clear(state: Receiving, error: unknown): void {
    if (state.releaseTimer) clearTimeout(state.releaseTimer);
    this.release(state);
    state.box.clear(error);
  }

  private fetchLarge(state: Receiving, reference: Uint8Array, reply: string, info: DeliveryInfo): void {
    state.fetching++;
    this.publisher.publish(reply, IN_PROGRESS);
    this.blobs.get(reference).then(
      (body) => {
        state.fetching--;
        this.handOver(state, body, reply, info);
        this.refill(state);
      },
      () => {
        state.fetching--;
        this.publisher.publish(reply, NAK);
        this.refill(state);
      },
    );
  }

  private publishError(channel: string, error: unknown): Error {
    if (
      error instanceof StreamPublishError &&
      error.code === ApiCode.maximumMessages &&
      /maximum messages/.test(error.message)
    ) {
      return new ChannelFull(channel, this.options.capacityFor(channel));
    }
    if (error instanceof StreamPublishError) {
      return new BackendUnavailable(`Could not store a message for ${channel}: ${error.message}`, { cause: error });
    }
    return unavailable(`send to ${channel}`, error);
  }
}
