import { channelLayerConformance } from "@channel-layers/core/conformance";
import { afterAll, it } from "vitest";
import { NatsTestServer } from "./nats-server.js";

const server = await NatsTestServer.start();
afterAll(() => server?.stop());

if (server) {
  channelLayerConformance({
    name: "NatsChannelLayer",
    crossInstance: true,
    // Without a prefix, server.layer() picks a random one: every such layer is isolated.
    factory: (options) => server.layer(options),
  });
} else {
  it.skip("NatsChannelLayer conformance: no NATS server (set NATS_URL)", () => undefined);
}
