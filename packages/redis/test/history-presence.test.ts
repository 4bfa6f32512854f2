import type { HistoryOffset } from "@channel-layers/core";
import { RedisChannelLayer, type RedisChannelLayerOptions } from "@channel-layers/redis";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshPrefix, useRedis } from "./redis-service.js";

// What the conformance suite cannot see: how history and presence sit in Redis. Offsets are
// stream ids from the server's clock (never issued again after a flush), a sender's own
// __group__/__offset__ are replaced, and with encryption nothing readable is stored.
const redis = await useRedis();
const HISTORY = { groupHistory: { "room-*": { maxLength: 50 } } };

describe.runIf(redis.url)("history and presence in Redis", () => {
  let admin: Redis;
  const layers: RedisChannelLayer[] = [];
  beforeAll(() => {
    admin = new Redis(redis.url as string);
  });
  afterAll(async () => {
    for (const layer of layers) await layer.flush().catch(() => undefined);
    await Promise.all(layers.map((layer) => layer.close()));
    admin.disconnect();
  });

  function layer(options: RedisChannelLayerOptions): RedisChannelLayer {
    const made = new RedisChannelLayer({ hosts: [redis.url as string], ...options });
    layers.push(made);
    return made;
  }

  const receive = (on: RedisChannelLayer, channel: string) =>
    on.receive(channel, { signal: AbortSignal.timeout(5000) });

  it("numbers a history group's messages with stream ids, and issues none of them again after a flush", async () => {
    const sender = layer({ ...HISTORY, prefix: freshPrefix("history-ids") });
    const member = await sender.newChannel();
    await sender.groupAdd("room-ids", member);
    await sender.groupSend("room-ids", { type: "before", __offset__: "mine", __group__: "mine" });
    const before = await receive(sender, member);
    expect(before, "the sender's own __group__ and __offset__ are replaced").toMatchObject({
      type: "before",
      __group__: "room-ids",
    });
    const offset = before.__offset__ as string;
    expect(offset).toMatch(/^\d+-\d+$/);
    expect(await admin.xlen(`${sender.prefix}:history:room-ids`)).toBe(1);

    await sender.flush();
    expect(await admin.exists(`${sender.prefix}:history:room-ids`), "flush removes the history").toBe(0);
    await sender.groupAdd("room-ids", member);
    await sender.groupSend("room-ids", { type: "after" });
    const after = await receive(sender, member);
    const [oldTime, newTime] = [offset, after.__offset__ as string].map((id) => BigInt(id.split("-")[0] as string));
    expect(after.__offset__).not.toBe(offset);
    expect((newTime as bigint) >= (oldTime as bigint), "ids come from the server's clock").toBe(true);
    const history = await sender.groupHistory("room-ids", { after: offset as HistoryOffset });
    expect(history.complete, "an offset from before the flush cannot be placed").toBe(false);
    expect(history.messages.map((entry) => entry.message)).toEqual([after]);
  });

  it("gives complete=false, and every kept message, for an offset no stream here issued", async () => {
    const sender = layer({ ...HISTORY, prefix: freshPrefix("history-foreign") });
    for (let n = 0; n < 3; n++) await sender.groupSend("room-foreign", { type: "m", n });
    for (const after of [7, "7", "not-an-id", "99999999999999999999-0", "0-0"]) {
      const history = await sender.groupHistory("room-foreign", { after });
      expect(history.complete, String(after)).toBe(false);
      expect(history.messages.map((entry) => entry.message.n)).toEqual([0, 1, 2]);
    }
    expect(await sender.groupHistory("room-none", { after: "1-0" })).toEqual({ messages: [], complete: false });
  });

  it("stores history and presence encrypted when keys are set, and drops what another key wrote", async () => {
    const prefix = freshPrefix("history-encrypted");
    const keys = { symmetricEncryptionKeys: ["history-secret"] };
    const sender = layer({ ...HISTORY, ...keys, prefix });
    const member = await sender.newChannel();
    await sender.groupAdd("room-secret", member);
    await sender.groupSend("room-secret", { type: "chat", text: "readable-text" });
    const received = await receive(sender, member);
    expect(received).toMatchObject({ type: "chat", text: "readable-text", __group__: "room-secret" });
    await sender.presenceTrack("room-secret", member, "alice", { name: "readable-name" });

    const stored = JSON.stringify(await admin.xrange(`${prefix}:history:room-secret`, "-", "+"));
    expect(stored).not.toContain("readable-text");
    expect(JSON.stringify(await admin.hgetall(`${prefix}:presence:room-secret`))).not.toContain("readable-name");
    const first = await sender.groupHistory("room-secret", { after: "0-1" });
    expect(first.messages.map((entry) => entry.message)).toEqual([received]);
    expect(Object.keys(await sender.presenceList("room-secret"))).toEqual(["alice"]);

    const stranger = layer({ ...HISTORY, symmetricEncryptionKeys: ["another-secret"], prefix });
    const unreadable = await stranger.groupHistory("room-secret", { after: received.__offset__ as string });
    expect(unreadable, "nothing follows that offset: still complete").toEqual({ messages: [], complete: true });
    const all = await stranger.groupHistory("room-secret", { after: "0-1" });
    expect(all).toEqual({ messages: [], complete: false });
    expect(await stranger.presenceList("room-secret")).toEqual({});
    expect(stranger.stats().droppedUndecodable).toBe(2);
  });

  it("keeps history through the two-step group send (capacity rules), with the same offsets for members and history", async () => {
    const prefix = freshPrefix("history-rules");
    const options = { ...HISTORY, prefix, channelCapacity: { "specific.*": 100 } };
    const [sender, other] = [layer(options), layer(options)];
    const [own, remote] = [await sender.newChannel(), await other.newChannel()];
    await sender.groupAdd("room-rules", own);
    await sender.groupAdd("room-rules", remote);
    const sent = [];
    for (let n = 0; n < 5; n++) await sender.groupSend("room-rules", { type: "m", n });
    for (let n = 0; n < 5; n++) {
      const [mine, theirs] = [await receive(sender, own), await receive(other, remote)];
      expect(theirs).toEqual(mine);
      sent.push(mine);
    }
    const history = await other.groupHistory("room-rules", { after: sent[0]?.__offset__ as string });
    expect(history.complete).toBe(true);
    expect(history.messages.map((entry) => entry.message)).toEqual(sent.slice(1));
  });
});
