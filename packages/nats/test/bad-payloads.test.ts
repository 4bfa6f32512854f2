import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { DiagnosticsEvent } from "@channel-layers/core";
import { instanceIdOf, MessageSerializer } from "@channel-layers/core/backend";
import { receiveOrNothing, receiveWithin } from "@channel-layers/core/conformance";
import type { NatsChannelLayer } from "@channel-layers/nats";
import { afterAll, describe, expect, it, onTestFinished, vi } from "vitest";
import { FrameKind, FrameWriter } from "../src/frames.js";
import { SubjectMap } from "../src/subjects.js";
import { NatsTestServer, randomPrefix } from "./nats-server.js";

const server = await NatsTestServer.start();
afterAll(() => server?.stop());

// MessagePack that is not a message this layer accepts: each must be dropped, counted, and logged.
const wire = new MessageSerializer();
const BAD_BODIES: [string, Uint8Array][] = [
  ["no type", wire.encode({ text: "no type here" })],
  ["a msgpack extension (Date)", wire.encode({ type: "with.date", at: new Date(0) })],
  ["the reserved __asgi_channel__ key", wire.encode({ type: "spoof", __asgi_channel__: "elsewhere" })],
  ["not MessagePack at all", Uint8Array.of(0xc1, 0x00)],
];

function sendFrame(channel: string, body: Uint8Array): Uint8Array {
  const sender = "0123456789abcdef";
  const frame = new FrameWriter(2 + FrameWriter.stringSize(channel) + FrameWriter.stringSize(sender) + body.byteLength);
  return frame.u8(FrameKind.send).u8(0).string(channel).string(sender).raw(body).bytes;
}

function groupFrame(body: Uint8Array): Uint8Array {
  const sender = "fedcba9876543210";
  const frame = new FrameWriter(2 + FrameWriter.stringSize(sender) + body.byteLength);
  return frame.u8(FrameKind.group).u8(0).string(sender).raw(body).bytes;
}

describe.runIf(server)("bytes from a peer that are not a valid message", () => {
  const live = server as NatsTestServer;

  function layer(prefix = randomPrefix("bad-payloads")): NatsChannelLayer {
    const made = live.layer({ prefix });
    onTestFinished(() => made.close());
    return made;
  }

  /** The "dropped" events the layer publishes on its diagnostics channel during the test. */
  function droppedEvents(): DiagnosticsEvent[] {
    const events: DiagnosticsEvent[] = [];
    const listener = (event: unknown) => {
      if ((event as DiagnosticsEvent).event === "dropped") events.push(event as DiagnosticsEvent);
    };
    subscribe("channel-layers:nats", listener);
    onTestFinished(() => {
      unsubscribe("channel-layers:nats", listener);
    });
    return events;
  }

  it("on an instance's subject: dropped and counted, and the consumer's next message still arrives", async () => {
    const owner = layer();
    const events = droppedEvents();
    const channel = await owner.newChannel();
    const raw = await live.connection();
    const subject = new SubjectMap(owner.prefix).instance(instanceIdOf(channel) as string);
    for (const [, body] of BAD_BODIES) raw.publish(subject, sendFrame(channel, body));
    raw.publish(subject, Uint8Array.of(0xff, 1, 2)); // Not a frame of ours.
    await raw.flush();
    await vi.waitFor(() => expect(owner.stats().droppedUndecodable).toBe(BAD_BODIES.length + 1));
    expect(await receiveOrNothing(owner, channel, 200)).toBeUndefined();
    expect(events.filter((event) => event.reason === "undecodable")).toHaveLength(BAD_BODIES.length + 1);
    await owner.send(channel, { type: "good" });
    expect(await receiveWithin(owner, channel, 5000)).toEqual({ type: "good" });
  });

  it("on a group's subject: dropped and counted, and the next groupSend reaches the members", async () => {
    const receiver = layer();
    const sender = layer(receiver.prefix);
    const member = await receiver.newChannel();
    await receiver.groupAdd("room", member);
    const raw = await live.connection();
    const subject = new SubjectMap(receiver.prefix).group("room");
    for (const [, body] of BAD_BODIES) raw.publish(subject, groupFrame(body));
    await raw.flush();
    await vi.waitFor(() => expect(receiver.stats().droppedUndecodable).toBe(BAD_BODIES.length));
    // From another instance, so it travels the group's subject as the bad bytes did.
    await sender.groupSend("room", { type: "good" });
    expect(await receiveWithin(receiver, member, 5000)).toEqual({ type: "good" });
    expect(await receiveOrNothing(receiver, member, 200)).toBeUndefined();
  });

  it("in a named channel's stream: acknowledged and dropped, counted, and the messages around it arrive in order", async () => {
    const receiver = layer();
    await receiver.send("bad-jobs", { type: "before" });
    const raw = await live.connection();
    const subject = new SubjectMap(receiver.prefix).channel("bad-jobs");
    for (const [, body] of BAD_BODIES) {
      const stored = await raw.request(
        subject,
        new FrameWriter(1 + body.byteLength).u8(FrameKind.durable).raw(body).bytes,
      );
      expect(JSON.parse(stored.string())).toHaveProperty("seq");
    }
    await receiver.send("bad-jobs", { type: "after" });
    expect(await receiveWithin(receiver, "bad-jobs", 5000)).toEqual({ type: "before" });
    expect(await receiveWithin(receiver, "bad-jobs", 5000)).toEqual({ type: "after" });
    expect(receiver.stats()).toMatchObject({ droppedUndecodable: BAD_BODIES.length, received: 2 });
    expect(await receiveOrNothing(receiver, "bad-jobs", 300)).toBeUndefined();
  });
});
