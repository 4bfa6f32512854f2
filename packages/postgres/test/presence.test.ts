import { presenceTestControl } from "@channel-layers/core/backend";
import { receiveWithin } from "@channel-layers/core/conformance";
import type { PostgresChannelLayer, PostgresChannelLayerOptions } from "@channel-layers/postgres";
import { afterAll, describe, expect, it, onTestFinished } from "vitest";
import { randomPrefix, testDatabase } from "./database.js";

const database = await testDatabase();
afterAll(() => database?.drop());

const ARRIVAL_MS = 10_000;
const HEARTBEAT_MS = 100;
/** Ten heartbeats, as the conformance suite: a loaded machine may miss several. */
const TIMING = { presenceHeartbeatMs: HEARTBEAT_MS, presenceTimeoutMs: 10 * HEARTBEAT_MS };

describe.runIf(database)("presence on PostgreSQL", () => {
  const db = database as NonNullable<typeof database>;

  async function instances(count: number, options: PostgresChannelLayerOptions = {}): Promise<PostgresChannelLayer[]> {
    const prefix = randomPrefix();
    const layers = Array.from({ length: count }, () => db.layer({ prefix, ...TIMING, ...options }));
    onTestFinished(() => Promise.all(layers.map((layer) => layer.close())).then(() => undefined));
    await Promise.all(layers.map((layer) => layer.ready()));
    return layers;
  }

  /** Rows in the layer's presence tables. */
  async function rowsOf(layer: PostgresChannelLayer): Promise<{ tracks: number; instances: number }> {
    const { rows } = await db.query<{ tracks: number; instances: number }>(
      `SELECT (SELECT count(*) FROM ${layer.names.presenceTable})::int AS tracks,
              (SELECT count(*) FROM ${layer.names.presenceInstanceTable})::int AS instances`,
    );
    return rows[0] ?? { tracks: -1, instances: -1 };
  }

  it("stores any key (NUL, emoji) and any meta value (bytes, nesting) as given", async () => {
    const [layer] = (await instances(1)) as [PostgresChannelLayer];
    const channel = await layer.newChannel();
    const key = "a\u0000b 👩‍💻 ü";
    const meta = { avatar: Buffer.from([0, 1, 255]), nested: { list: [1, "two", null] }, big: 2 ** 40 };
    const ref = await layer.presenceTrack("keys", channel, key, meta);
    expect(await layer.presenceList("keys")).toEqual({ [key]: { metas: [{ ...meta, ref }] } });
  });

  it("sends each leave of a crashed instance's 20 presences exactly once while three instances sweep", async () => {
    const layers = await instances(4);
    const [dead, watcherLayer] = layers as [PostgresChannelLayer, PostgresChannelLayer];
    const watcher = await watcherLayer.newChannel();
    await watcherLayer.groupAdd("crowd", watcher);
    // Every survivor uses presence, so all three sweep.
    for (const layer of layers.slice(1)) await layer.presenceList("crowd");
    const keys = Array.from({ length: 20 }, (_, i) => `user${i}`);
    const tracked = await dead.newChannel();
    for (const key of keys) await dead.presenceTrack("crowd", tracked, key);
    for (const _ of keys) await receiveWithin(watcherLayer, watcher, ARRIVAL_MS, { type: "presence.diff" });
    presenceTestControl(dead)?.crash();
    const left: string[] = [];
    while (left.length < keys.length) {
      const diff = await receiveWithin(watcherLayer, watcher, ARRIVAL_MS + TIMING.presenceTimeoutMs);
      left.push(...Object.keys(diff.leaves as object));
    }
    expect(left.sort()).toEqual([...keys].sort());
    // Further heartbeats of all three sweepers find nothing more to remove.
    const more = await receiveWithin(watcherLayer, watcher, 3 * TIMING.presenceTimeoutMs).catch(() => undefined);
    expect(more, "every leave was sent once").toBeUndefined();
    expect(await rowsOf(dead), "the dead instance's row went with its tracks").toEqual({ tracks: 0, instances: 0 });
  });

  it("leaves no row behind once an instance that tracked has closed", async () => {
    const [layer, other] = (await instances(2)) as [PostgresChannelLayer, PostgresChannelLayer];
    const channel = await layer.newChannel();
    await layer.presenceTrack("closing", channel, "kept-until-close");
    await layer.presenceTrack("closing", channel, "untracked");
    await layer.presenceUntrack("closing", channel, "untracked");
    expect(await rowsOf(layer)).toEqual({ tracks: 1, instances: 1 });
    await layer.close();
    expect(await rowsOf(other)).toEqual({ tracks: 0, instances: 0 });
    expect(await other.presenceList("closing")).toEqual({});
  });

  it("removes the tracks and the instance's row on flush", async () => {
    const [layer] = (await instances(1)) as [PostgresChannelLayer];
    await layer.presenceTrack("flushed", await layer.newChannel(), "gone");
    await layer.flush();
    expect(await rowsOf(layer)).toEqual({ tracks: 0, instances: 0 });
  });
});
