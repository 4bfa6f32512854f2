import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { InMemoryChannelLayer } from "@channel-layers/memory";
import { describe, expect, it } from "vitest";

describe("InMemoryChannelLayer stats()", () => {
  it("counts sends, group sends, receives and full channels beside its table sizes", async () => {
    const layer = new InMemoryChannelLayer({ capacity: 1 });
    const [a, b] = [await layer.newChannel(), await layer.newChannel()];
    await layer.groupAdd("room", a);
    await layer.groupAdd("room", b);
    await layer.send(a, { type: "direct" });
    await expect(layer.send(a, { type: "over" })).rejects.toMatchObject({ code: "CHANNEL_FULL" });
    await layer.groupSend("room", { type: "group" });
    await layer.receive(a);
    await layer.receive(b);
    expect(layer.stats()).toEqual({
      backend: "memory",
      sent: 2,
      groupSends: 1,
      received: 2,
      channelFull: 2,
      droppedUndecodable: 0,
      lostSends: 0,
      reconnects: 0,
      backgroundErrors: 0,
      channels: 0,
      groups: 1,
      memberships: 2,
      presenceEntries: 0,
      historyGroups: 0,
      historyMessages: 0,
    });
    await layer.discardChannel(a);
    await layer.discardChannel(b);
    expect(layer.stats()).toMatchObject({ channels: 0, groups: 0, memberships: 0 });
    await layer.close();
  });

  it("publishes nothing on its diagnostics channel in normal work", async () => {
    const events: unknown[] = [];
    const listen = (event: unknown) => events.push(event);
    subscribe("channel-layers:memory", listen);
    const layer = new InMemoryChannelLayer();
    try {
      const channel = await layer.newChannel();
      await layer.send(channel, { type: "x" });
      await layer.receive(channel);
      expect(events).toEqual([]);
    } finally {
      unsubscribe("channel-layers:memory", listen);
      await layer.close();
    }
  });
});
