import { type HistoryOffset, positionOf } from "@channel-layers/core";
import { expectNothing, receiveWithin, rejectionOf } from "@channel-layers/core/conformance";
import type { NatsChannelLayer, NatsChannelLayerOptions } from "@channel-layers/nats";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, describe, expect, it, onTestFinished } from "vitest";
import { historyTag, SubjectMap } from "../src/subjects.js";
import { NatsTestServer, randomPrefix } from "./nats-server.js";

const server = await NatsTestServer.start();
afterAll(() => server?.stop());

const ARRIVAL_MS = 10_000;
const RULES: NatsChannelLayerOptions["groupHistory"] = [["room-*", { maxLength: 500 }]];

/** The stream sequence in an offset this layer gave (`<rule tag>:<sequence>`). */
function sequenceOf(offset: unknown): number {
  expect(offset, "an offset of this layer").toMatch(/^[0-9a-f]{8}:\d+$/);
  return Number(String(offset).split(":")[1]);
}

describe.runIf(server)("group history on NATS", () => {
  const live = server as NatsTestServer;

  /** `count` layers on one fresh prefix, closed when the test ends. */
  function instances(count: number, options: NatsChannelLayerOptions = {}): NatsChannelLayer[] {
    const prefix = randomPrefix();
    const layers = Array.from({ length: count }, () => live.layer({ groupHistory: RULES, ...options, prefix }));
    onTestFinished(() => Promise.all(layers.map((layer) => layer.close())).then(() => undefined));
    return layers;
  }

  it("delivers to members on every instance in offset order while three instances send at once", async () => {
    const layers = instances(3, { capacity: 1000 });
    const members: [NatsChannelLayer, string][] = [];
    for (const layer of layers) {
      for (let n = 0; n < 2; n++) {
        const member = await layer.newChannel();
        await layer.groupAdd("room-busy", member);
        members.push([layer, member]);
      }
    }
    await Promise.all(
      layers.map(async (layer, sender) => {
        for (let n = 0; n < 40; n++) await layer.groupSend("room-busy", { type: "chat", sender, n });
      }),
    );
    let delivered: HistoryOffset[] | undefined;
    for (const [layer, member] of members) {
      const received: Record<string, unknown>[] = [];
      for (let i = 0; i < 120; i++) received.push(await receiveWithin(layer, member, ARRIVAL_MS));
      const seqs = received.map((message) => sequenceOf(message.__offset__));
      expect(
        seqs.every((seq, i) => i === 0 || seq > (seqs[i - 1] as number)),
        `offsets increase in delivery order: ${seqs.join(",")}`,
      ).toBe(true);
      for (const sender of [0, 1, 2]) {
        const ns = received.filter((message) => message.sender === sender).map((message) => message.n as number);
        expect(ns, `sender ${sender}'s messages, once each, in its order`).toEqual(
          Array.from({ length: 40 }, (_, n) => n),
        );
      }
      const offsets = received.map((message) => message.__offset__ as HistoryOffset);
      delivered ??= offsets;
      expect(offsets, "every member got the one order").toEqual(delivered);
    }
    const first = delivered?.[0] as HistoryOffset;
    const history = await (layers[0] as NatsChannelLayer).groupHistory("room-busy", { after: first });
    expect(history.complete).toBe(true);
    expect(history.messages.map((entry) => entry.offset)).toEqual(delivered?.slice(1));
  });

  it("has the sender's own members hold a message once its groupSend resolves, so a later send comes after it", async () => {
    const [layer] = instances(1) as [NatsChannelLayer];
    const member = await layer.newChannel();
    await layer.groupAdd("room-local", member);
    for (let n = 0; n < 20; n++) {
      await layer.groupSend("room-local", { type: "group", n });
      await layer.send(member, { type: "direct", n });
    }
    const types: string[] = [];
    for (let i = 0; i < 40; i++) {
      const message = await receiveWithin(layer, member, ARRIVAL_MS);
      types.push(`${message.type}:${message.n}`);
    }
    expect(types).toEqual(Array.from({ length: 20 }, (_, n) => [`group:${n}`, `direct:${n}`]).flat());
  });

  it("gives a named member the message stamped with the offset the history holds", async () => {
    const [sender, worker] = instances(2) as [NatsChannelLayer, NatsChannelLayer];
    const named = `worker-${randomPrefix()}`;
    await sender.groupAdd("room-workers", named);
    await sender.groupSend("room-workers", { type: "job", n: 1 });
    await sender.groupSend("room-workers", { type: "job", n: 2 });
    const got = [await receiveWithin(worker, named, ARRIVAL_MS), await receiveWithin(worker, named, ARRIVAL_MS)];
    expect(got.map((message) => positionOf(message as never)?.group)).toEqual(["room-workers", "room-workers"]);
    const history = await worker.groupHistory("room-workers", { after: got[0]?.__offset__ as HistoryOffset });
    expect(history).toEqual({ messages: [{ offset: got[1]?.__offset__, message: got[1] }], complete: true });
  });

  it("keeps numbering after a flush, and cannot place an offset from before it", async () => {
    const [layer] = instances(1) as [NatsChannelLayer];
    const member = await layer.newChannel();
    await layer.groupAdd("room-flushed", member);
    await layer.groupSend("room-flushed", { type: "before" });
    const before = await receiveWithin(layer, member, ARRIVAL_MS);
    await layer.flush();
    await layer.groupAdd("room-flushed", member);
    await layer.groupSend("room-flushed", { type: "after" });
    const after = await receiveWithin(layer, member, ARRIVAL_MS);
    expect(sequenceOf(after.__offset__)).toBeGreaterThan(sequenceOf(before.__offset__));
    const history = await layer.groupHistory("room-flushed", { after: before.__offset__ as HistoryOffset });
    expect(history).toEqual({ messages: [{ offset: after.__offset__, message: after }], complete: false });
  });

  it("places an offset by position: one of another group of the rule, or one newer than the group's last", async () => {
    const [layer] = instances(1) as [NatsChannelLayer];
    const member = await layer.newChannel();
    for (const group of ["room-a", "room-b"]) await layer.groupAdd(group, member);
    await layer.groupSend("room-a", { type: "m", n: 0 });
    await layer.groupSend("room-b", { type: "m", n: 1 });
    await layer.groupSend("room-a", { type: "m", n: 2 });
    await layer.groupSend("room-b", { type: "m", n: 3 });
    const got = [];
    for (let n = 0; n < 4; n++) got.push(await receiveWithin(layer, member, ARRIVAL_MS, { n }));
    const fromB = await layer.groupHistory("room-a", { after: got[1]?.__offset__ as HistoryOffset });
    expect(fromB, "room-a's message 2 came after room-b's 1").toEqual({
      messages: [{ offset: got[2]?.__offset__, message: got[2] }],
      complete: true,
    });
    const newest = await layer.groupHistory("room-a", { after: got[3]?.__offset__ as HistoryOffset });
    expect(newest).toEqual({ messages: [], complete: true });
  });

  it("cannot place an offset of another rule: a group whose rule changed starts another history", async () => {
    const [before] = instances(1) as [NatsChannelLayer];
    const member = await before.newChannel();
    await before.groupAdd("room-changed", member);
    await before.groupSend("room-changed", { type: "m", n: 1 });
    const old = await receiveWithin(before, member, ARRIVAL_MS);
    const changed = live.layer({ prefix: before.prefix, groupHistory: [["room-*", { maxLength: 20 }]] });
    onTestFinished(() => changed.close());
    await changed.groupSend("room-changed", { type: "m", n: 2 });
    const history = await changed.groupHistory("room-changed", { after: old.__offset__ as HistoryOffset });
    expect(history.complete).toBe(false);
    expect(history.messages.map((entry) => entry.message.n)).toEqual([2]);
    const anything = await changed.groupHistory("room-changed", { after: 1 });
    expect(anything.complete, "a number is no offset of this layer").toBe(false);
  });

  it("still places the offset of a message that just aged out, so a client that saw it misses nothing", async () => {
    const [layer] = instances(1, { groupHistory: [["room-*", { maxLength: 10, maxAgeMs: 2000 }]] }) as [
      NatsChannelLayer,
    ];
    const member = await layer.newChannel();
    await layer.groupAdd("room-aged", member);
    await layer.groupSend("room-aged", { type: "m", n: 1 });
    await layer.groupSend("room-aged", { type: "m", n: 2 });
    const [first, second] = [
      await receiveWithin(layer, member, ARRIVAL_MS),
      await receiveWithin(layer, member, ARRIVAL_MS),
    ];
    // Past maxAgeMs, within the twice maxAgeMs the stream keeps a message: the contract is about time here.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    await layer.groupSend("room-aged", { type: "m", n: 3 });
    const third = await receiveWithin(layer, member, ARRIVAL_MS);
    expect(await layer.groupHistory("room-aged", { after: second?.__offset__ as HistoryOffset })).toEqual({
      messages: [{ offset: third.__offset__, message: third }],
      complete: true,
    });
    const older = await layer.groupHistory("room-aged", { after: first?.__offset__ as HistoryOffset });
    expect(older, "message 2 aged out after message 1").toEqual({
      messages: [{ offset: third.__offset__, message: third }],
      complete: false,
    });
  });

  it("refuses a message above one JetStream message with MESSAGE_TOO_LARGE, keeping and delivering nothing", async () => {
    const [layer] = instances(1) as [NatsChannelLayer];
    const member = await layer.newChannel();
    await layer.groupAdd("room-large", member);
    await layer.groupSend("room-large", { type: "small" });
    const small = await receiveWithin(layer, member, ARRIVAL_MS);
    const maxPayload = (await live.connection()).info?.max_payload ?? 1024 * 1024;
    const error = await rejectionOf(layer.groupSend("room-large", { type: "big", data: new Uint8Array(maxPayload) }));
    expect(error).toMatchObject({ code: "MESSAGE_TOO_LARGE" });
    expect(await layer.groupHistory("room-large", { after: small.__offset__ as HistoryOffset })).toEqual({
      messages: [],
      complete: true,
    });
    await expectNothing(layer, member, 300, "the large message was refused");
    // A group without history carries it as before, in chunks.
    await layer.groupSend("plain-large", { type: "big", data: new Uint8Array(maxPayload) });
  });

  it("keeps each group to maxLength + 1 messages in its rule's stream, which republishes them to the group's subject", async () => {
    const [layer] = instances(1, { groupHistory: [["room-*", { maxLength: 3, maxAgeMs: 60_000 }]] }) as [
      NatsChannelLayer,
    ];
    for (let n = 0; n < 10; n++) await layer.groupSend("room-limits", { type: "m", n });
    const subjects = new SubjectMap(layer.prefix);
    const tag = historyTag(3, 60_000);
    const jsm = await jetstreamManager(await live.connection(), { checkAPI: false });
    const info = await jsm.streams.info(subjects.historyStream(tag), { subjects_filter: ">" });
    expect(info.config).toMatchObject({
      subjects: [subjects.historySubjects(tag)],
      max_msgs_per_subject: 4,
      max_age: 120_000 * 1e6,
      republish: { src: subjects.historySubjects(tag), dest: subjects.historyRepublish },
    });
    expect(info.state.subjects).toEqual({ [subjects.history(tag, "room-limits")]: 4 });
  });
});
