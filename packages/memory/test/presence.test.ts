import type { PresenceEntry } from "@channel-layers/core/backend";
import { InMemoryChannelLayer, type InMemoryChannelLayerOptions } from "@channel-layers/memory";
import { afterEach, describe, expect, it } from "vitest";

/** The in-memory layer with an untrack that can be made to fail, and a log of what was untracked. */
class UntrackLog extends InMemoryChannelLayer {
  untracked: string[] = [];
  failUntrack = false;

  protected override async _presenceUntrack(entries: readonly PresenceEntry[]): Promise<PresenceEntry[]> {
    if (this.failUntrack) throw new Error("backend down");
    this.untracked.push(...entries.map((entry) => entry.key));
    return super._presenceUntrack(entries);
  }
}

const layers: InMemoryChannelLayer[] = [];
afterEach(async () => {
  await Promise.all(layers.splice(0).map((layer) => layer.close()));
});

function layer(options: InMemoryChannelLayerOptions = {}): UntrackLog {
  const made = new UntrackLog(options);
  layers.push(made);
  return made;
}

describe("the base's presence bookkeeping, on the in-memory layer", () => {
  it("runs calls on one group, channel and key in call order, whatever their I/O takes", async () => {
    const presence = layer();
    const channel = await presence.newChannel();
    const calls = [
      presence.presenceTrack("g", channel, "k", { n: 1 }),
      presence.presenceUntrack("g", channel, "k"),
      presence.presenceTrack("g", channel, "k", { n: 2 }),
      presence.presenceTrack("g", channel, "k", { n: 3 }),
    ];
    const refs = await Promise.all(calls);
    expect(await presence.presenceList("g")).toEqual({ k: { metas: [{ n: 3, ref: refs[3] }] } });
    expect(presence.stats().presenceEntries).toBe(1);
  });

  it("untracks what is left on close", async () => {
    const presence = layer();
    await presence.presenceTrack("g", await presence.newChannel(), "left-open");
    await presence.close();
    expect(presence.untracked).toEqual(["left-open"]);
  });

  it("lets an untrack that fails on discardChannel lapse instead: counted, and swept with a leave diff", async () => {
    const presence = layer({ presenceHeartbeatMs: 50, presenceTimeoutMs: 1000 });
    const [gone, watcher] = [await presence.newChannel(), await presence.newChannel()];
    await presence.groupAdd("g", watcher);
    const ref = await presence.presenceTrack("g", gone, "k");
    expect(await presence.receive(watcher)).toMatchObject({ joins: { k: { metas: [{ ref }] } } });
    presence.failUntrack = true;
    await expect(presence.discardChannel(gone)).resolves.toBeUndefined();
    expect(presence.stats().backgroundErrors).toBe(1);
    expect(await presence.receive(watcher, { signal: AbortSignal.timeout(5000) })).toEqual({
      type: "presence.diff",
      group: "g",
      joins: {},
      leaves: { k: { metas: [{ ref }] } },
    });
    expect(await presence.presenceList("g")).toEqual({});
  });
});
