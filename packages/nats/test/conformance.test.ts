import { channelLayerConformance } from "@channel-layers/core/conformance";
import { NatsChannelLayer } from "@channel-layers/nats";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, expect, it } from "vitest";
import { NatsTestServer, randomPrefix } from "./nats-server.js";

const server = await NatsTestServer.start();
afterAll(() => server?.stop());

if (server) {
  const prefixes = new Set<string>();
  channelLayerConformance<NatsChannelLayer>({
    name: "NatsChannelLayer",
    crossInstance: true,
    // Without a prefix, server.layer() picks a random one: every such layer is isolated. It deletes
    // a prefix's streams once the last layer on it closes.
    factory: ({ sibling, ...options }) => {
      const layer = server.layer(sibling ? { ...options, prefix: sibling.prefix } : options);
      prefixes.add(layer.prefix);
      return layer;
    },
    // Nothing listens on port 1.
    unreachableFactory: () => new NatsChannelLayer({ servers: "nats://127.0.0.1:1", prefix: randomPrefix() }),
  });

  it("leaves no stream behind for the prefixes the suite used", async () => {
    const jsm = await jetstreamManager(await server.connection(), { checkAPI: false });
    const left: string[] = [];
    for (const prefix of prefixes) for await (const name of jsm.streams.names(`${prefix}.>`)) left.push(name);
    expect(left, `JetStream streams left after the suite, of ${prefixes.size} prefixes`).toEqual([]);
  });
} else {
  it.skip("NatsChannelLayer conformance: no NATS server (set NATS_URL)", () => undefined);
}
