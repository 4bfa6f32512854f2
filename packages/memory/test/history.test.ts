import { InMemoryChannelLayer } from "@channel-layers/memory";
import { afterEach, describe, expect, it } from "vitest";

const layers: InMemoryChannelLayer[] = [];
afterEach(async () => {
  await Promise.all(layers.splice(0).map((layer) => layer.close()));
});

function historyLayer(maxAgeMs?: number): InMemoryChannelLayer {
  const rule = maxAgeMs === undefined ? { maxLength: 5 } : { maxLength: 5, maxAgeMs };
  const layer = new InMemoryChannelLayer({ groupHistory: [["chat_*", rule]] });
  layers.push(layer);
  return layer;
}

describe("the in-memory layer's group history", () => {
  it("numbers from one counter per layer: offsets increase per group, skipping other groups' numbers", async () => {
    const layer = historyLayer();
    await layer.groupSend("chat_a", { type: "m", n: 0 });
    await layer.groupSend("chat_b", { type: "m" });
    await layer.groupSend("chat_a", { type: "m", n: 1 });
    const offsets = (await layer.groupHistory("chat_a", { after: 0 })).messages.map((entry) => Number(entry.offset));
    expect((offsets[1] as number) - (offsets[0] as number)).toBe(2);
    const after = await layer.groupHistory("chat_a", { after: offsets[0] as number });
    expect(after.messages.map((entry) => entry.message.n)).toEqual([1]);
    expect(after.complete).toBe(true);
  });

  it("calls an offset it cannot place a gap and returns everything kept: a string, a number before it or after it", async () => {
    const layer = historyLayer();
    for (let n = 0; n < 3; n++) await layer.groupSend("chat_a", { type: "m", n });
    for (const after of ["1700000000000-0", 99, Number.MAX_SAFE_INTEGER]) {
      const history = await layer.groupHistory("chat_a", { after });
      expect(history.complete).toBe(false);
      expect(history.messages.map((entry) => entry.message.n)).toEqual([0, 1, 2]);
    }
  });

  it("never reissues an offset after a flush, and calls an offset from before it a gap", async () => {
    const layer = historyLayer();
    await layer.groupSend("chat_a", { type: "m", n: 0 });
    await layer.groupSend("chat_a", { type: "m", n: 1 });
    const [first, last] = (await layer.groupHistory("chat_a", { after: 0 })).messages.map((entry) => entry.offset);
    await layer.flush();
    await layer.groupSend("chat_a", { type: "m", n: 2 });
    // Message 1 went with the flush: a client that last saw message 0 missed it.
    const history = await layer.groupHistory("chat_a", { after: first as number });
    expect(history.complete).toBe(false);
    const seen = history.messages.map((entry) => [entry.message.n, Number(entry.offset) > Number(last)]);
    expect(seen).toEqual([[2, true]]);
  });

  it("never reissues the offsets of a layer made before it (a restarted process starts past the clock)", async () => {
    const before = historyLayer();
    for (let n = 0; n < 3; n++) await before.groupSend("chat_a", { type: "m", n });
    const kept = (await before.groupHistory("chat_a", { after: 0 })).messages.map((entry) => Number(entry.offset));
    await before.close();
    const after = historyLayer();
    await after.groupSend("chat_a", { type: "m", n: 3 });
    const history = await after.groupHistory("chat_a", { after: 0 });
    expect(history.messages.map((entry) => Number(entry.offset) > Math.max(...kept))).toEqual([true]);
    expect(Math.min(...kept)).toBeGreaterThan(Date.parse("2020-01-01") * 1024);
  });

  it("forgets a group whose whole history aged out (stats drop to zero), and a later read is a gap", async () => {
    const layer = historyLayer(30);
    await layer.groupSend("chat_a", { type: "m" });
    expect(layer.stats()).toMatchObject({ historyGroups: 1, historyMessages: 1 });
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(layer.stats()).toMatchObject({ historyGroups: 0, historyMessages: 0 });
    expect(await layer.groupHistory("chat_a", { after: 1 })).toEqual({ messages: [], complete: false });
  });

  it("keeps its own copy: a reader changing what groupHistory returned changes nothing kept", async () => {
    const layer = historyLayer();
    await layer.groupSend("chat_a", { type: "m", list: [1] });
    const first = await layer.groupHistory("chat_a", { after: 0 });
    const list = first.messages[0]?.message.list;
    if (!Array.isArray(list)) throw new Error(`no list in ${JSON.stringify(first)}`);
    list.push(2);
    const second = await layer.groupHistory("chat_a", { after: 0 });
    expect(second.messages[0]?.message.list).toEqual([1]);
  });

  it("rejects groupSend to a history group on a layer without the history extension", async () => {
    class NoHistory extends InMemoryChannelLayer {
      override readonly extensions = ["groups", "flush"];
    }
    const layer = new NoHistory({ groupHistory: { "chat_*": { maxLength: 5 } } });
    layers.push(layer);
    await expect(layer.groupSend("chat_a", { type: "m" })).rejects.toMatchObject({
      code: "UNSUPPORTED",
      message: expect.stringMatching(/keeps no group history, but groupHistory names group chat_a/),
    });
    await expect(layer.groupSend("other", { type: "m" })).resolves.toBeUndefined();
    await expect(layer.presenceList("g")).rejects.toMatchObject({ code: "UNSUPPORTED" });
  });
});
