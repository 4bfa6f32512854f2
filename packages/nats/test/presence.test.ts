import type { PresenceList } from "@channel-layers/core";
import { type PresenceEntry, presenceTestControl } from "@channel-layers/core/backend";
import { expectNothing, receiveWithin } from "@channel-layers/core/conformance";
import { deletePrefixStreams, type NatsChannelLayer, type NatsChannelLayerOptions } from "@channel-layers/nats";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, describe, expect, it, onTestFinished } from "vitest";
import { SubjectMap } from "../src/subjects.js";
import { NatsTestServer, randomPrefix } from "./nats-server.js";

const server = await NatsTestServer.start();
afterAll(() => server?.stop());

const ARRIVAL_MS = 10_000;
// Ten heartbeats: a loaded machine may miss several without a live entry lapsing.
const TIMING = { presenceHeartbeatMs: 100, presenceTimeoutMs: 1000 };

type Diff = { type: string; joins: PresenceList; leaves: PresenceList };

describe.runIf(server)("presence on NATS", () => {
  const live = server as NatsTestServer;

  function instances(count: number, options: NatsChannelLayerOptions = {}): NatsChannelLayer[] {
    const prefix = randomPrefix();
    const layers = Array.from({ length: count }, () => live.layer({ ...TIMING, capacity: 1000, ...options, prefix }));
    onTestFinished(() => Promise.all(layers.map((layer) => layer.close())).then(() => undefined));
    return layers;
  }

  /** Receives diffs on `channel` until `count` leaves have come; returns every key that left, repeats included. */
  async function leavesOn(layer: NatsChannelLayer, channel: string, count: number): Promise<string[]> {
    const left: string[] = [];
    while (left.length < count) {
      const diff = (await receiveWithin(layer, channel, ARRIVAL_MS)) as Diff;
      expect(diff.type).toBe("presence.diff");
      for (const [key, { metas }] of Object.entries(diff.leaves)) for (const _ of metas) left.push(key);
    }
    return left;
  }

  it("sends each leave of a crashed instance's 60 entries once while three instances sweep", async () => {
    const [dead, ...sweepers] = instances(3) as [NatsChannelLayer, NatsChannelLayer, NatsChannelLayer];
    const watchers: [NatsChannelLayer, string][] = [];
    for (const layer of sweepers) {
      const watcher = await layer.newChannel();
      await layer.groupAdd("crowd", watcher);
      // Tracked there too, so each runs a heartbeat and sweeps.
      await layer.presenceTrack("elsewhere", watcher, "sweeper");
      watchers.push([layer, watcher]);
    }
    const keys = Array.from({ length: 60 }, (_, n) => `user-${n}`);
    const channel = await dead.newChannel();
    for (const key of keys) await dead.presenceTrack("crowd", channel, key);
    for (const [layer, watcher] of watchers) {
      let joined = 0;
      while (joined < keys.length)
        joined += Object.keys(((await receiveWithin(layer, watcher, ARRIVAL_MS)) as Diff).joins).length;
    }
    presenceTestControl(dead)?.crash();
    for (const [layer, watcher] of watchers) {
      const left = await leavesOn(layer, watcher, keys.length);
      expect(left.sort(), "every key left exactly once").toEqual([...keys].sort());
      await expectNothing(layer, watcher, 500, "each entry leaves once");
    }
    expect(await (sweepers[0] as NatsChannelLayer).presenceList("crowd")).toEqual({});
  });

  it("removes each lapsed entry in exactly one of four sweeps racing over 200 of them", async () => {
    const [dead, ...sweepers] = instances(5) as NatsChannelLayer[];
    const channel = await (dead as NatsChannelLayer).newChannel();
    const refs = new Set<string>();
    await Promise.all(
      Array.from({ length: 200 }, async (_, n) =>
        refs.add(await (dead as NatsChannelLayer).presenceTrack(`race-${n % 7}`, channel, `k${n}`)),
      ),
    );
    presenceTestControl(dead as NatsChannelLayer)?.crash();
    // The sweepers never tracked anything, so no heartbeat of theirs sweeps: only these calls do.
    type Sweeper = { _presenceSweep(): Promise<{ ref: string }[]> };
    const removed: string[] = [];
    const started = Date.now();
    while (removed.length < refs.size) {
      const rounds = await Promise.all(sweepers.map((layer) => (layer as unknown as Sweeper)._presenceSweep()));
      for (const round of rounds) for (const entry of round) removed.push(entry.ref);
      expect(Date.now() - started, `${removed.length} of ${refs.size} removed`).toBeLessThan(
        TIMING.presenceTimeoutMs + ARRIVAL_MS,
      );
      if (removed.length < refs.size) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(removed.length, "no entry was removed twice").toBe(refs.size);
    expect(new Set(removed)).toEqual(refs);
  });

  it("never sweeps what its own refresh just wrote, however long it stalled before the sweep; a paused refresh is swept", async () => {
    const [layer] = instances(1) as [NatsChannelLayer];
    // The transport half, called as the heartbeat calls it (this layer runs no heartbeat of its own).
    type Half = {
      _presenceTrack(entry: PresenceEntry, replaced: undefined, ttlMs: number): Promise<void>;
      _presenceRefresh(entries: PresenceEntry[], ttlMs: number): Promise<PresenceEntry[]>;
      _presenceSweep(): Promise<PresenceEntry[]>;
    };
    const half = layer as unknown as Half;
    const entry: PresenceEntry = {
      group: "stalled",
      key: "rita",
      channel: await layer.newChannel(),
      ref: "0123456789abcdef0123",
      meta: {},
      instance: "stalled-instance",
    };
    await half._presenceTrack(entry, undefined, 200);
    expect(await half._presenceRefresh([entry], 200)).toEqual([]);
    // The stall is the subject here: longer than the entry's life, between the refresh and the sweep.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await half._presenceSweep(), "refreshed just before this sweep").toEqual([]);
    expect(await half._presenceSweep(), "no refresh since the last sweep").toEqual([entry]);
    expect(await half._presenceRefresh([entry], 200), "a refresh never re-creates it").toEqual([entry]);
  });

  it("lists each entry once while refreshes move entries to the end of the stream under the read", async () => {
    const [layer] = instances(1) as [NatsChannelLayer];
    type Half = {
      _presenceTrack(entry: PresenceEntry, replaced: undefined, ttlMs: number): Promise<void>;
      _presenceRefresh(entries: PresenceEntry[], ttlMs: number): Promise<PresenceEntry[]>;
      _presenceList(group: string): Promise<PresenceEntry[]>;
    };
    const half = layer as unknown as Half;
    const channel = await layer.newChannel();
    const entries = Array.from({ length: 300 }, (_, n) => ({
      group: "moving",
      key: `k${n}`,
      channel,
      ref: `ref${String(n).padStart(17, "0")}`,
      meta: {},
      instance: "refreshing",
    }));
    await Promise.all(entries.map((entry) => half._presenceTrack(entry, undefined, 60_000)));
    for (let round = 0; round < 10; round++) {
      const [listed] = await Promise.all([half._presenceList("moving"), half._presenceRefresh(entries, 60_000)]);
      expect(listed.map((entry) => entry.ref).sort(), `round ${round}`).toEqual(entries.map((entry) => entry.ref));
    }
  });

  it("tracks its entries again, with joins, when its stream was deleted under it", async () => {
    const [layer] = instances(1) as [NatsChannelLayer];
    const [channel, watcher] = [await layer.newChannel(), await layer.newChannel()];
    await layer.groupAdd("lost", watcher);
    const ref = await layer.presenceTrack("lost", channel, "olga", { n: 1 });
    const present = { olga: { metas: [{ n: 1, ref }] } };
    await receiveWithin(layer, watcher, ARRIVAL_MS);
    await deletePrefixStreams(await live.connection(), layer.prefix);
    expect(await receiveWithin(layer, watcher, ARRIVAL_MS)).toEqual({
      type: "presence.diff",
      group: "lost",
      joins: present,
      leaves: {},
    });
    expect(await layer.presenceList("lost")).toEqual(present);
    expect(layer.stats().presenceEntries).toBe(1);
  });

  it("lists only entries among bytes that are not one, and sweeps those bytes once they lapse", async () => {
    const [layer] = instances(1) as [NatsChannelLayer];
    const channel = await layer.newChannel();
    const ref = await layer.presenceTrack("mixed", channel, "pia");
    const subjects = new SubjectMap(layer.prefix);
    const connection = await live.connection();
    for (const [n, bytes] of [new Uint8Array([0xc1]), new TextEncoder().encode("hello")].entries()) {
      await connection.request(subjects.presenceEntry("mixed", `junk${n}`), bytes);
    }
    expect(await layer.presenceList("mixed")).toEqual({ pia: { metas: [{ ref }] } });
    expect(layer.stats().droppedUndecodable).toBeGreaterThanOrEqual(2);
    const jsm = await jetstreamManager(connection, { checkAPI: false });
    const filter = subjects.presenceGroup("mixed");
    for (let waited = 0; ; waited += 100) {
      const { state } = await jsm.streams.info(subjects.presenceStream, { subjects_filter: filter });
      if (state.subjects && Object.keys(state.subjects).length === 1) break;
      expect(waited, `the junk is still there: ${JSON.stringify(state.subjects)}`).toBeLessThan(ARRIVAL_MS);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await layer.presenceList("mixed"), "the live entry stays").toEqual({ pia: { metas: [{ ref }] } });
  });

  it("keeps one message per track, refreshed in place: the stream holds what is tracked and a clock tick", async () => {
    const [layer] = instances(1) as [NatsChannelLayer];
    const channel = await layer.newChannel();
    for (let n = 0; n < 25; n++) await layer.presenceTrack("counted", channel, `key-${n}`);
    await layer.presenceTrack("counted", channel, "key-0", { replaced: true });
    await layer.presenceUntrack("counted", channel, "key-1");
    const subjects = new SubjectMap(layer.prefix);
    const jsm = await jetstreamManager(await live.connection(), { checkAPI: false });
    // Two heartbeats' refreshes at least (each rewrites all 24 entries), which must add no message.
    const { state: before } = await jsm.streams.info(subjects.presenceStream);
    for (let waited = 0; ; waited += 50) {
      const { state } = await jsm.streams.info(subjects.presenceStream);
      if (state.last_seq >= before.last_seq + 48) break;
      expect(waited, "the heartbeat refreshes the entries").toBeLessThan(ARRIVAL_MS);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const info = await jsm.streams.info(subjects.presenceStream);
    expect(info.config).toMatchObject({ subjects: [`${subjects.root}.p.>`], max_msgs_per_subject: 1 });
    expect(info.state.messages, "24 entries and the sweep's clock tick").toBe(25);
    expect(Object.keys(await layer.presenceList("counted"))).toHaveLength(24);
  });

  it("removes the presence stream's entries and histories on flush, and deletePrefixStreams removes the streams", async () => {
    const [layer] = instances(1, { groupHistory: { "room-*": { maxLength: 5 } } }) as [NatsChannelLayer];
    const channel = await layer.newChannel();
    await layer.presenceTrack("room-1", channel, "quinn");
    await layer.groupSend("room-1", { type: "kept" });
    const jsm = await jetstreamManager(await live.connection(), { checkAPI: false });
    const subjects = new SubjectMap(layer.prefix);
    const names = async () => {
      const found: string[] = [];
      for await (const name of jsm.streams.names(subjects.everything)) found.push(name);
      return found.sort();
    };
    expect(await names()).toEqual(expect.arrayContaining([subjects.presenceStream, expect.stringMatching(/^chl_h_/)]));
    await layer.flush();
    for (const name of await names()) expect((await jsm.streams.info(name)).state.messages, name).toBe(0);
    expect(await layer.presenceList("room-1")).toEqual({});
    await layer.close();
    await deletePrefixStreams(await live.connection(), layer.prefix);
    expect(await names()).toEqual([]);
  });
});
