import { receiveWithin } from "@channel-layers/core/conformance";
import type { NatsChannelLayer } from "@channel-layers/nats";
import { afterAll, describe, expect, it, onTestFinished } from "vitest";
import { NatsTestServer, randomPrefix } from "./nats-server.js";

const server = await NatsTestServer.start();
afterAll(() => server?.stop());

/** A message well above the server's max_payload (1 MB by default), with bytes that show any misplaced chunk. */
function large(megabytes: number, label: string) {
  const bytes = new Uint8Array(megabytes * 1024 * 1024);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + (i >> 20)) & 0xff;
  return { type: "large", label, bytes, text: "한".repeat(1000) };
}

function expectWhole(got: Record<string, unknown>, sent: ReturnType<typeof large>): void {
  expect(got.label).toBe(sent.label);
  expect(got.text).toBe(sent.text);
  const bytes = got.bytes as Uint8Array;
  expect(bytes.byteLength).toBe(sent.bytes.byteLength);
  expect(Buffer.compare(bytes, sent.bytes)).toBe(0);
}

describe.runIf(server)("messages above the server's max_payload", () => {
  const live = server as NatsTestServer;

  function pair(options: { maxMessageSize?: number } = {}): [NatsChannelLayer, NatsChannelLayer] {
    const prefix = randomPrefix();
    const layers: [NatsChannelLayer, NatsChannelLayer] = [
      live.layer({ ...options, prefix }),
      live.layer({ ...options, prefix }),
    ];
    onTestFinished(() => Promise.all(layers.map((layer) => layer.close())).then(() => undefined));
    return layers;
  }

  it("round-trips whole to another instance's process-local channel, in order with small ones", async () => {
    const [sender, owner] = pair();
    const channel = await owner.newChannel();
    const big = large(3, "local");
    await sender.send(channel, { type: "small", n: 1 });
    await sender.send(channel, big);
    await sender.send(channel, { type: "small", n: 2 });
    expect(await receiveWithin(owner, channel, 5000)).toEqual({ type: "small", n: 1 });
    expectWhole(await receiveWithin(owner, channel, 10_000), big);
    expect(await receiveWithin(owner, channel, 5000)).toEqual({ type: "small", n: 2 });
    expect(owner.stats().incompleteTransfers).toBe(0);
  });

  it("round-trips whole through a group, to members on several instances and a named member", async () => {
    const [sender, receiver] = pair();
    const local = await sender.newChannel();
    const remote = await receiver.newChannel();
    for (const channel of [local, remote, "large-named"]) await sender.groupAdd("large-group", channel);
    const big = large(2, "group");
    await sender.groupSend("large-group", big);
    expectWhole(await receiveWithin(sender, local, 10_000), big);
    expectWhole(await receiveWithin(receiver, remote, 10_000), big);
    expectWhole(await receiveWithin(receiver, "large-named", 10_000), big);
  });

  it("round-trips whole through a durable named channel", async () => {
    const [sender, receiver] = pair();
    const big = large(5, "durable");
    await sender.send("large-jobs", { type: "small", n: 1 });
    await sender.send("large-jobs", big);
    expect(await receiveWithin(receiver, "large-jobs", 5000)).toEqual({ type: "small", n: 1 });
    expectWhole(await receiveWithin(receiver, "large-jobs", 10_000), big);
  });

  it("rejects only above the layer's maxMessageSize, with MESSAGE_TOO_LARGE", async () => {
    const [sender, owner] = pair({ maxMessageSize: 3 * 1024 * 1024 });
    const channel = await owner.newChannel();
    await sender.send(channel, large(2, "fits"));
    for (const target of [channel, "too-large-named"]) {
      await expect(sender.send(target, large(4, "too big"))).rejects.toMatchObject({ code: "MESSAGE_TOO_LARGE" });
    }
    await expect(sender.groupSend("any", large(4, "too big"))).rejects.toMatchObject({ code: "MESSAGE_TOO_LARGE" });
    expect((await receiveWithin(owner, channel, 10_000)).label).toBe("fits");
  });
});
