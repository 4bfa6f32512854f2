import { receiveWithin } from "@channel-layers/core/conformance";
import { deletePrefixStreams, type NatsChannelLayer } from "@channel-layers/nats";
import { afterAll, describe, expect, it, onTestFinished } from "vitest";
import { NatsTestServer, randomPrefix } from "./nats-server.js";

// A throwaway nats-server started without -js: core NATS only.
const server = await NatsTestServer.start({ jetstream: false });
afterAll(() => server?.stop());

/** What a call that needs JetStream rejects with: a documented code, and a message that says what to do. */
const NEEDS_JETSTREAM = {
  code: "BACKEND_UNAVAILABLE",
  message: expect.stringMatching(/has no JetStream.*start nats-server with -js/),
};

describe.runIf(server)("on a NATS server without JetStream", () => {
  const live = server as NatsTestServer;

  /** Two instances on one fresh prefix, closed when the test ends. */
  function pair(): [NatsChannelLayer, NatsChannelLayer] {
    const prefix = randomPrefix("no-js");
    const options = { prefix, groupHistory: { "kept-*": { maxLength: 10 } } };
    const layers: [NatsChannelLayer, NatsChannelLayer] = [live.layer(options), live.layer(options)];
    onTestFinished(() => Promise.all(layers.map((layer) => layer.close())).then(() => undefined));
    return layers;
  }

  it("carries process-local channels across instances, as core NATS can", async () => {
    const [owner, sender] = pair();
    const channel = await owner.newChannel();
    await sender.send(channel, { type: "core.nats" });
    expect(await receiveWithin(owner, channel, 5000)).toEqual({ type: "core.nats" });
  });

  it("rejects every call that needs JetStream with BACKEND_UNAVAILABLE saying to start nats-server with -js", async () => {
    const [layer] = pair();
    const local = await layer.newChannel();
    const calls: [string, () => Promise<unknown>][] = [
      ["send to a named channel", () => layer.send("jobs", { type: "job" })],
      ["receive on a named channel", () => layer.receive("jobs", { signal: AbortSignal.timeout(20_000) })],
      ["groupAdd of a named channel", () => layer.groupAdd("workers", "jobs")],
      ["groupDiscard of a named channel", () => layer.groupDiscard("workers", "jobs")],
      ["groupSend", () => layer.groupSend("room", { type: "hello" })],
      ["flush", () => layer.flush()],
      ["presenceTrack", () => layer.presenceTrack("room", local, "alice")],
      ["presenceList", () => layer.presenceList("room")],
      ["groupSend to a history group", () => layer.groupSend("kept-room", { type: "hello" })],
      ["groupHistory", () => layer.groupHistory("kept-room", { after: 0 })],
    ];
    for (const [label, call] of calls) {
      const error = await call().then(
        () => `${label} resolved`,
        (e: unknown) => e,
      );
      expect(error, label).toMatchObject(NEEDS_JETSTREAM);
      expect((error as Error).cause, `${label} keeps the cause`).toBeDefined();
    }
    await expect(deletePrefixStreams(await live.connection(), layer.prefix)).rejects.toMatchObject(NEEDS_JETSTREAM);
    // The layer goes on with what core NATS carries.
    await layer.send(local, { type: "still.here" });
    expect(await receiveWithin(layer, local, 5000)).toEqual({ type: "still.here" });
  });
});
