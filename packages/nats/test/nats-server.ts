import { randomBytes } from "node:crypto";
import { deletePrefixStreams, NatsChannelLayer, type NatsChannelLayerOptions } from "@channel-layers/nats";
import { type StartNatsOptions, startNats, type TestService } from "@channel-layers/testing";
import { connect, type NatsConnection } from "@nats-io/transport-node";

/** A fresh random prefix: every test's subjects and streams are its own. */
export function randomPrefix(label = "test"): string {
  return `${label}-${randomBytes(6).toString("hex")}`;
}

/**
 * A NATS server for a test file (the shared one from NATS_URL, else a throwaway one), and layers
 * on it that delete their prefix's streams when the last layer on that prefix closes, so test
 * runs leave nothing behind on the shared JetStream.
 */
export class NatsTestServer {
  private admin: NatsConnection | undefined;
  private readonly openLayers = new Map<string, number>();
  private readonly cleanups = new Set<Promise<void>>();

  private constructor(readonly service: TestService) {}

  /** Undefined when no server can be had (the caller skips), unless CI requires one. */
  static async start(options?: StartNatsOptions): Promise<NatsTestServer | undefined> {
    const service = await startNats(options);
    return service && new NatsTestServer(service);
  }

  get url(): string {
    return this.service.url;
  }

  /** A layer on this server; a random prefix unless `options.prefix` shares one with other layers. */
  layer(options: NatsChannelLayerOptions = {}): NatsChannelLayer {
    const prefix = options.prefix ?? randomPrefix();
    const layer = new NatsChannelLayer({ servers: this.url, ...options, prefix });
    this.openLayers.set(prefix, (this.openLayers.get(prefix) ?? 0) + 1);
    const close = layer.close.bind(layer);
    let closing: Promise<void> | undefined;
    layer.close = () => {
      // The streams go in the background (stop() waits for them): close() itself resolves right
      // after the layer's, as callers handling the receives it rejects expect.
      closing ??= close().finally(() => {
        const cleanup = this.layerClosed(prefix);
        this.cleanups.add(cleanup);
        void cleanup.finally(() => this.cleanups.delete(cleanup));
      });
      return closing;
    };
    return layer;
  }

  /** A plain nats.js connection to the server, closed by stop(). */
  async connection(): Promise<NatsConnection> {
    this.admin ??= await connect({ servers: this.url });
    return this.admin;
  }

  async stop(): Promise<void> {
    await Promise.all(this.cleanups);
    await this.admin?.close();
    this.admin = undefined;
    await this.service.stop();
  }

  private async layerClosed(prefix: string): Promise<void> {
    const left = (this.openLayers.get(prefix) ?? 1) - 1;
    if (left > 0) {
      this.openLayers.set(prefix, left);
      return;
    }
    this.openLayers.delete(prefix);
    await deletePrefixStreams(await this.connection(), prefix).catch(() => 0);
  }
}
