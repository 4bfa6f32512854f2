import { BackendUnavailable, ChannelFull, type Message } from "@channel-layers/core";
import { Backoff, Mailbox } from "@channel-layers/core/backend";
import { createInbox, type Msg } from "@nats-io/transport-node";
import { BlobStore } from "./blobs.js";
import { type DeliveryInfo, parseAckSubject, RecentDeliveries } from "./delivery-info.js";
import { FrameKind, FrameWriter } from "./frames.js";
import {
  ApiCode,
  duplicateWindowFor,
  NoStream,
  nanos,
  refusedByServer,
  StreamPublishError,
  unavailable,
} from "./jetstream.js";
import type { Limits } from "./own-channels.js";
import { StreamsOnce } from "./streams-once.js";
import type { NatsTransport } from "./transport.js";

/** The one durable pull consumer of each channel stream, shared by every receiving instance. */
const CONSUMER = "receivers";
/** A pull request lapses after this long; the layer then asks again if anyone still waits. */
const PULL_EXPIRES_MS = 20_000;
/** While a pull request waits, the server says so this often (an idle heartbeat). */
const PULL_HEARTBEAT_MS = 2000;
/** A pull request not heard of for this long died with its consumer's leader (a cluster node): ask again. */
const PULL_LOST_AFTER_MS = 3 * PULL_HEARTBEAT_MS;
/** Waits before asking again when the server did not serve a channel (no answer, no consumer leader yet). */
const RETRY = { initialMs: 250, maxMs: 5000 };
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
  /** When a message or heartbeat for it last came. */
  heardAt: number;
}

/** One named channel this instance receives on. */
interface Receiving {
  readonly channel: string;
  readonly stream: string;
  /** Receives waiting here, and messages whose receive gave up meanwhile (held HOLD_MS for the next). */
  readonly box: Mailbox<Delivery>;
  /** Pull requests, oldest first: a message does not name its request, and the server serves them in order. */
  readonly pulls: Pull[];
  /** Messages asked for in pull requests and not yet arrived. */
  outstanding: number;
  /** Large messages being fetched for a waiting receive. */
  fetching: number;
  /** The consumer exists (as far as we know). */
  ready: boolean;
  consumer: Promise<void> | undefined;
  /** Spaces out attempts while the server does not serve the channel; `retrying` while one waits. */
  readonly retry: Backoff;
  retrying: boolean;
  releaseTimer: NodeJS.Timeout | undefined;
  readonly recent: RecentDeliveries;
}

/**
 * Named channels: a JetStream work-queue stream each (capacity and expiry are stream limits), and
 * one pull consumer shared by every instance, each pulling exactly as many messages as it has
 * receives waiting. docs/nats.md ("Named channels") tells the whole story.
 */
export class DurableChannels {
  private readonly receiving = new Map<string, Receiving>();
  /** Pull request id -> the channel it asks for. */
  private readonly pullOwners = new Map<number, Receiving>();
  private readonly pullInbox = createInbox();
  private readonly streams = new StreamsOnce(ENSURED_LIMIT);
  private readonly blobs: BlobStore;
  private nextPull = 0;
  /** Looks for lost pull requests while any are out. */
  private watchdog: NodeJS.Timeout | undefined;
  /** Messages found expired on arrival (the server's max_age had not dropped them yet). */
  expired = 0;
  /** Redeliveries of messages already received here (their acknowledgement was lost), dropped. */
  duplicatesDropped = 0;

  constructor(
    private readonly transport: NatsTransport,
    private readonly limits: Limits,
  ) {
    this.blobs = new BlobStore(transport, limits.expiryMs);
  }

  get channelCount(): number {
    return this.receiving.size;
  }

  /** Subscribes to the inbox where pulled messages arrive (open). */
  listen(): void {
    this.transport.subscribe(`${this.pullInbox}.*`, (msg) => this.arrived(msg));
  }

  /** Stores an encoded message in the channel's stream; ChannelFull when the stream holds `capacity`. */
  async publish(channel: string, body: Uint8Array): Promise<void> {
    const subject = this.transport.subjects.channel(channel);
    try {
      const frame =
        body.byteLength > this.transport.chunkSize
          ? await this.blobs.put(body)
          : new FrameWriter(1 + body.byteLength).u8(FrameKind.durable).raw(body).bytes;
      try {
        await this.transport.js.publish(subject, frame);
      } catch (error) {
        if (!(error instanceof NoStream)) throw error;
        // First send to this channel (or its stream was removed): create the stream, then retry.
        await this.ensureStream(channel, true);
        await this.transport.js.publish(subject, frame);
      }
    } catch (error) {
      throw this.publishError(channel, error);
    }
  }

  /** A groupSend's copies for its named members: full ones are skipped (counted), any other failure rejects. */
  async publishToMembers(channels: readonly string[], body: Uint8Array): Promise<void> {
    const outcomes = await Promise.allSettled(channels.map((channel) => this.publish(channel, body)));
    for (const outcome of outcomes) {
      if (outcome.status === "rejected" && !(outcome.reason instanceof ChannelFull)) throw outcome.reason;
    }
  }

  /** Empties every stream of the prefix: named channels, memberships of named channels, large bodies (flush). */
  async purgePrefix(): Promise<void> {
    const { js, subjects } = this.transport;
    const streams = await js.streamNames(subjects.everything);
    await Promise.all(streams.map((stream) => js.purgeStream(stream)));
  }

  /** The next message of `channel`, pulled for this receive. */
  receive(channel: string, signal: AbortSignal | undefined): Promise<Message> {
    let state = this.receiving.get(channel);
    if (state === undefined) {
      state = {
        channel,
        stream: this.transport.subjects.channelStream(channel),
        box: new Mailbox<Delivery>(this.transport.diagnostics.counters),
        pulls: [],
        outstanding: 0,
        fetching: 0,
        ready: false,
        consumer: undefined,
        retry: new Backoff(RETRY),
        retrying: false,
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
  askAgain(): void {
    this.pullOwners.clear();
    for (const state of this.receiving.values()) {
      state.pulls.length = 0;
      state.outstanding = 0;
      this.refill(state);
    }
  }

  /** Hands every held message back to the server (closing). */
  releaseHeld(): void {
    for (const state of this.receiving.values()) {
      if (state.releaseTimer) clearTimeout(state.releaseTimer);
      this.release(state);
    }
  }

  /** Rejects every waiting receive with `error` (close; the transport drops the subscription). */
  close(error: unknown): void {
    clearInterval(this.watchdog);
    for (const state of this.receiving.values()) this.clear(state, error);
    this.receiving.clear();
    this.pullOwners.clear();
  }

  /** Creates the channel's stream unless this instance knows it exists. */
  ensureStream(channel: string, again = false): Promise<void> {
    const { js, subjects, settings } = this.transport;
    return this.streams.ensure(
      channel,
      () =>
        js.addStream({
          name: subjects.channelStream(channel),
          description: `channel-layers ${subjects.prefix}: channel ${channel}`,
          subjects: [subjects.channel(channel)],
          retention: "workqueue",
          storage: "file",
          max_msgs: this.limits.capacityFor(channel),
          discard: "new",
          max_age: nanos(this.limits.expiryMs),
          duplicate_window: duplicateWindowFor(this.limits.expiryMs),
          num_replicas: settings.replicas,
        }),
      again,
    );
  }

  /** Asks the server for as many messages as there are receives waiting and not yet served. */
  private refill(state: Receiving): void {
    const needed = state.box.waiting - state.outstanding - state.fetching;
    if (needed <= 0 || state.retrying || !this.transport.connected) return;
    if (!state.ready) {
      state.consumer ??= this.ensureConsumer(state).then(
        () => {
          state.ready = true;
          state.consumer = undefined;
          state.retry.reset();
          this.refill(state);
        },
        (error: unknown) => {
          state.consumer = undefined;
          if (this.receiving.get(state.channel) !== state) return;
          // JetStream said no (no JetStream, no permission): the waiting receives reject rather
          // than hang. No answer (the server is down): they wait, and it is tried again.
          if (refusedByServer(error)) this.clear(state, unavailable(`receive on ${state.channel}`, error));
          else {
            this.transport.diagnostics.backgroundError(error, { channel: state.channel });
            this.retryLater(state);
          }
        },
      );
      return;
    }
    const id = ++this.nextPull;
    const pull: Pull = { id, remaining: needed, heardAt: Date.now() };
    state.pulls.push(pull);
    this.pullOwners.set(id, state);
    state.outstanding += needed;
    this.watchdog ??= setInterval(() => this.askAgainForLostPulls(), PULL_HEARTBEAT_MS).unref();
    const request = { batch: needed, expires: nanos(PULL_EXPIRES_MS), idle_heartbeat: nanos(PULL_HEARTBEAT_MS) };
    this.transport.publish(
      `$JS.API.CONSUMER.MSG.NEXT.${state.stream}.${CONSUMER}`,
      Buffer.from(JSON.stringify(request)),
      // Closed connection: close() rejects the receives.
      { reply: `${this.pullInbox}.${id}`, failed: () => this.ended(state, pull) },
    );
  }

  /** Forgets a pull request the server has finished with, and what it still asked for. */
  private ended(state: Receiving, pull: Pull): void {
    const index = state.pulls.indexOf(pull);
    if (index !== -1) state.pulls.splice(index, 1);
    this.pullOwners.delete(pull.id);
    state.outstanding -= pull.remaining;
  }

  /** Counts a delivered message against the oldest pull request. */
  private served(state: Receiving): void {
    const oldest = state.pulls[0];
    if (oldest === undefined) return;
    oldest.heardAt = Date.now();
    state.retry.reset();
    oldest.remaining--;
    state.outstanding--;
    if (oldest.remaining === 0) this.ended(state, oldest);
  }

  private async ensureConsumer(state: Receiving): Promise<void> {
    await this.ensureStream(state.channel);
    const config = {
      durable_name: CONSUMER,
      ack_policy: "explicit" as const,
      ack_wait: nanos(this.transport.settings.ackWaitMs),
      deliver_policy: "all" as const,
      max_deliver: -1,
      max_ack_pending: -1,
    };
    const { js } = this.transport;
    try {
      await js.addConsumer(state.stream, config);
    } catch (error) {
      if (!(error instanceof Error && "code" in error && error.code === ApiCode.streamNotFound)) {
        // Another instance made the consumer with other options (its ackWaitMs): use that one.
        if (await js.consumerExists(state.stream, CONSUMER)) return;
        throw error;
      }
      await this.ensureStream(state.channel, true);
      await js.addConsumer(state.stream, config);
    }
  }

  /**
   * Forgets pull requests the server has not mentioned for PULL_LOST_AFTER_MS (in a cluster, a
   * consumer leader that died took them along, and no 408 will come) and asks again.
   */
  private askAgainForLostPulls(): void {
    const lostBefore = Date.now() - PULL_LOST_AFTER_MS;
    for (const state of this.receiving.values()) {
      const lost = state.pulls.filter((pull) => pull.heardAt < lostBefore);
      for (const pull of lost) this.ended(state, pull);
      if (lost.length > 0) this.refill(state);
    }
    if (this.pullOwners.size === 0) {
      clearInterval(this.watchdog);
      this.watchdog = undefined;
    }
  }

  /** Asks for the channel again after a back-off, and not before. */
  private retryLater(state: Receiving): void {
    state.retrying = true;
    void state.retry.wait({ unref: true }).then(() => {
      state.retrying = false;
      this.refill(state);
    });
  }

  /**
   * A status on a pull request's own inbox subject: 100 it waits (a heartbeat), 408 it lapsed,
   * 409 it was cut short (consumer deleted, too many waiting), 503 nobody serves the consumer
   * (a cluster electing its leader): all but 100 end it.
   */
  private statusArrived(msg: Msg, code: number): void {
    const id = Number(msg.subject.slice(this.pullInbox.length + 1));
    const state = this.pullOwners.get(id);
    const pull = state?.pulls.find((candidate) => candidate.id === id);
    if (state === undefined || pull === undefined) return;
    if (code === 100) {
      pull.heardAt = Date.now();
      return;
    }
    this.ended(state, pull);
    if (code === 409 || code === 503) state.ready = false;
    if (code === 503) this.retryLater(state);
    else this.refill(state);
  }

  private arrived(msg: Msg): void {
    if (msg.data.length === 0 && msg.headers && msg.headers.code >= 100) {
      this.statusArrived(msg, msg.headers.code);
      return;
    }
    const reply = msg.reply;
    const channel = this.transport.subjects.channelOf(msg.subject);
    const state = channel === undefined ? undefined : this.receiving.get(channel);
    if (!reply) return;
    if (state) this.served(state);
    const info = parseAckSubject(reply);
    if (Date.now() - info.storedAt >= this.limits.expiryMs) {
      this.expired++;
      this.transport.publish(reply, ACK);
    } else if (state === undefined) {
      this.transport.publish(reply, NAK);
    } else if (state.recent.has(info)) {
      this.duplicatesDropped++;
      this.transport.publish(reply, ACK);
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
    this.transport.publish(delivery.reply, ACK);
    return delivery.message;
  };

  /** Gives a message to the longest-waiting receive, or holds it for the next one. */
  private handOver(state: Receiving, body: Uint8Array, reply: string, info: DeliveryInfo): void {
    const message = this.transport.decode(body, { channel: state.channel });
    if (message === undefined) {
      this.transport.publish(reply, ACK); // Counted and dropped: redelivering it would never help.
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
      this.transport.publish(held.reply, NAK);
  }

  /** Rejects the channel's waiting receives with `error`, handing held messages back first. */
  private clear(state: Receiving, error: unknown): void {
    if (state.releaseTimer) clearTimeout(state.releaseTimer);
    this.release(state);
    state.box.clear(error);
  }

  private fetchLarge(state: Receiving, reference: Uint8Array, reply: string, info: DeliveryInfo): void {
    state.fetching++;
    this.transport.publish(reply, IN_PROGRESS);
    this.blobs.get(reference).then(
      (body) => {
        state.fetching--;
        this.handOver(state, body, reply, info);
        this.refill(state);
      },
      () => {
        state.fetching--;
        this.transport.publish(reply, NAK);
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
      this.transport.diagnostics.counters.channelFull++;
      return new ChannelFull(channel, this.limits.capacityFor(channel));
    }
    if (error instanceof StreamPublishError) {
      return new BackendUnavailable(`Could not store a message for ${channel}: ${error.message}`, { cause: error });
    }
    return unavailable(`send to ${channel}`, error);
  }
}
