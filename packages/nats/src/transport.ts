import { BackendUnavailable, LayerClosed, type Message } from "@channel-layers/core";
import { type LayerDiagnostics, type MessageSerializer, redactUrl } from "@channel-layers/core/backend";
import { connect, type Msg, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { chunkSizeFor } from "./chunks.js";
import { JetStreamCalls } from "./jetstream.js";
import type { ResolvedNatsOptions } from "./options.js";
import { Publisher, type PublishOptions } from "./publisher.js";
import { type RequestOptions, Requests } from "./requests.js";
import type { SubjectMap } from "./subjects.js";

/** What exists only while the layer is open: the connection and what is bound to it. */
interface Link {
  readonly nc: NatsConnection;
  readonly publisher: Publisher;
  readonly requests: Requests;
  readonly js: JetStreamCalls;
  /** Largest body sent in one piece: the server's max_payload less room for the frame. */
  readonly chunkSize: number;
  readonly statuses: AsyncIterable<{ type: string }> & { stop?(): void };
  connected: boolean;
}

/**
 * What every part of the layer talks to NATS through: the connection (made here or given), one
 * publisher that batches a turn's publishes, request/reply on one inbox, the JetStream calls, the
 * subscriptions to drop on close, and the decoding of what peers send. Made with the layer;
 * connected by the layer's open.
 */
export class NatsTransport {
  private link: Link | undefined;
  private readonly subscriptions = new Set<Subscription>();
  private transfers = 0;

  constructor(
    readonly settings: ResolvedNatsOptions,
    readonly subjects: SubjectMap,
    readonly instanceId: string,
    readonly serializer: MessageSerializer,
    readonly diagnostics: LayerDiagnostics,
  ) {}

  /** Connects (or takes the given connection); `reconnected` runs each time the connection comes back. */
  async connect(reconnected: () => void): Promise<void> {
    const nc = this.settings.connection ?? (await this.dial());
    const chunkSize = chunkSizeFor(nc.info?.max_payload ?? 1024 * 1024);
    const publisher = new Publisher(nc, chunkSize);
    const requests = new Requests(nc, publisher, this.settings.requestTimeoutMs);
    const statuses = nc.status();
    const link: Link = {
      nc,
      publisher,
      requests,
      js: new JetStreamCalls(nc, requests, this.settings.requestTimeoutMs, this.diagnostics),
      chunkSize,
      statuses,
      connected: true,
    };
    this.link = link;
    this.watch(link, reconnected);
  }

  /** Whether the connection is up (false while nats.js reconnects, and when closed). */
  get connected(): boolean {
    return this.link?.connected ?? false;
  }

  get chunkSize(): number {
    return this.open().chunkSize;
  }

  get js(): JetStreamCalls {
    return this.open().js;
  }

  /** Queues a publish; after close it fails at once through `options.failed`. */
  publish(subject: string, payload: Uint8Array, options?: PublishOptions): void {
    if (this.link === undefined) options?.failed?.(new LayerClosed());
    else this.link.publisher.publish(subject, payload, options);
  }

  /** Publishes a request and resolves with its reply; BACKEND_UNAVAILABLE after requestTimeoutMs. */
  request(subject: string, payload: Uint8Array, options?: RequestOptions): Promise<Msg> {
    if (this.link === undefined) return Promise.reject(new LayerClosed());
    return this.link.requests.request(subject, payload, options);
  }

  /** Subscribes until unsubscribe() or close(). */
  subscribe(subject: string, onMessage: (msg: Msg) => void): Subscription {
    const subscription = this.open().nc.subscribe(subject, {
      callback: (error, msg) => {
        // A permissions violation ends the subscription: say so rather than go quiet.
        if (error) this.diagnostics.backgroundError(error, { subject });
        else onMessage(msg);
      },
    });
    this.subscriptions.add(subscription);
    return subscription;
  }

  unsubscribe(subscription: Subscription): void {
    this.subscriptions.delete(subscription);
    if (!subscription.isClosed()) subscription.unsubscribe();
  }

  /** Resolves once the server has everything published and subscribed so far. */
  async flush(): Promise<void> {
    await this.open().publisher.flush();
  }

  /** A key for one chunked transfer; it starts with the instance id, so an instance knows its own. */
  transferKey(): string {
    return `${this.instanceId}.${++this.transfers}`;
  }

  /** A peer's encoded message, or undefined once it is counted, published and logged as undecodable. */
  decode(bytes: Uint8Array, where: Record<string, unknown>): Message | undefined {
    return this.diagnostics.decodeOrDrop(this.serializer, bytes, where);
  }

  /** Bytes on one of the layer's subjects that are not a frame of ours: dropped like an undecodable message. */
  dropUnreadable(where: Record<string, unknown>, error: unknown): void {
    this.diagnostics.counters.droppedUndecodable++;
    this.diagnostics.dropped("undecodable", where, error);
  }

  /**
   * Drops every subscription, hands nats.js what is still queued, closes the connection if the
   * layer made it, and only then rejects pending requests with `error`: those rejections land just
   * before close() resolves, so a caller that awaits close() and then handles them is not
   * reported for unhandled rejections.
   */
  async close(error: unknown): Promise<void> {
    const link = this.link;
    this.link = undefined;
    for (const subscription of this.subscriptions) if (!subscription.isClosed()) subscription.unsubscribe();
    this.subscriptions.clear();
    if (link === undefined) return;
    link.statuses.stop?.();
    link.publisher.drain();
    if (this.settings.connection === undefined) {
      await link.nc.flush().catch(() => undefined);
      await link.nc.close().catch(() => undefined);
    }
    link.requests.close(error);
  }

  private open(): Link {
    if (this.link === undefined) throw new LayerClosed();
    return this.link;
  }

  private async dial(): Promise<NatsConnection> {
    try {
      return await connect({
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        name: `channel-layers ${this.settings.prefix}`,
        ...this.settings.connectOptions,
        servers: [...this.settings.servers],
      });
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new BackendUnavailable(
        `Could not connect to NATS at ${redactUrl(this.settings.servers.join(", "))}: ${redactUrl(reason)}`,
        { cause },
      );
    }
  }

  private watch(link: Link, reconnected: () => void): void {
    (async () => {
      for await (const status of link.statuses) {
        if (status.type === "disconnect") link.connected = false;
        else if (status.type === "reconnect") {
          link.connected = true;
          this.diagnostics.reconnected({ server: redactUrl(link.nc.getServer()) });
          reconnected();
        }
      }
    })().catch((error: unknown) => this.diagnostics.backgroundError(error, { watching: "connection status" }));
  }
}
