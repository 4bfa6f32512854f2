import type { GroupHistoryPattern, HistoryOffset } from "@channel-layers/core";
import { receiveOrNothing, receiveWithin } from "@channel-layers/core/conformance";
import type { PostgresChannelLayer, PostgresChannelLayerOptions } from "@channel-layers/postgres";
import pg from "pg";
import { afterAll, describe, expect, it, onTestFinished } from "vitest";
import { randomPrefix, testDatabase } from "./database.js";

const database = await testDatabase();
afterAll(() => database?.drop());

const ARRIVAL_MS = 10_000;
const SILENCE_MS = 300;
const RULES: GroupHistoryPattern[] = [
  ["room-*", { maxLength: 1000 }],
  ["short-*", { maxLength: 3, maxAgeMs: 300 }],
];

describe.runIf(database)("group history on PostgreSQL", () => {
  const db = database as NonNullable<typeof database>;

  /** `count` instances of one layer, closed when the test ends. */
  async function instances(count: number, options: PostgresChannelLayerOptions = {}): Promise<PostgresChannelLayer[]> {
    const prefix = randomPrefix();
    const layers = Array.from({ length: count }, () => db.layer({ prefix, groupHistory: RULES, ...options }));
    onTestFinished(() => Promise.all(layers.map((layer) => layer.close())).then(() => undefined));
    await Promise.all(layers.map((layer) => layer.ready()));
    return layers;
  }

  /** A connection of the test's own, ended when the test ends. */
  async function connection(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    onTestFinished(async () => {
      await client.query("ROLLBACK").catch(() => undefined);
      await client.end();
    });
    return client;
  }

  it("gives each member the messages of concurrent senders on three instances in offset order", async () => {
    const layers = await instances(3, { capacity: 1000 });
    const [a, b] = layers as [PostgresChannelLayer, PostgresChannelLayer];
    const local = await a.newChannel();
    await a.groupAdd("room-race", local);
    await b.groupAdd("room-race", "race-named");
    const perSender = 60;
    // All at once: each instance's pool runs four statements at a time, twelve contending for the group.
    await Promise.all(
      layers.flatMap((layer, sender) =>
        Array.from({ length: perSender }, (_, n) => layer.groupSend("room-race", { type: "race", sender, n })),
      ),
    );
    const total = perSender * layers.length;
    for (const [receiver, channel] of [
      [a, local],
      [b, "race-named"],
    ] as const) {
      const offsets: number[] = [];
      for (let i = 0; i < total; i++) {
        const message = await receiveWithin(receiver, channel, ARRIVAL_MS);
        offsets.push(message.__offset__ as number);
      }
      const outOfOrder = offsets.findIndex((offset, i) => i > 0 && offset <= (offsets[i - 1] as number));
      expect(outOfOrder, `${channel} received offset ${offsets[outOfOrder]} after ${offsets[outOfOrder - 1]}`).toBe(-1);
    }
    const history = await a.groupHistory("room-race", { after: 0 });
    expect(history.messages).toHaveLength(total);
  });

  it("keeps nothing of a groupSend in a transaction that rolls back, and never reissues its offset", async () => {
    const [sender, receiver] = (await instances(2)) as [PostgresChannelLayer, PostgresChannelLayer];
    const client = await connection();
    const member = await receiver.newChannel();
    await receiver.groupAdd("room-tx", member);
    await sender.groupSend("room-tx", { type: "before" });
    const before = await receiveWithin(receiver, member, ARRIVAL_MS);
    await client.query("BEGIN");
    await sender.withClient(client).groupSend("room-tx", { type: "never" });
    await client.query("ROLLBACK");
    expect(await receiveOrNothing(receiver, member, SILENCE_MS)).toBeUndefined();
    await client.query("BEGIN");
    await sender.withClient(client).groupSend("room-tx", { type: "committed" });
    await client.query("COMMIT");
    const committed = await receiveWithin(receiver, member, ARRIVAL_MS, { type: "committed" });
    expect(committed.__offset__ as number).toBeGreaterThan(before.__offset__ as number);
    const history = await receiver.groupHistory("room-tx", { after: before.__offset__ as HistoryOffset });
    expect(history).toEqual({ messages: [{ offset: committed.__offset__, message: committed }], complete: true });
  });

  it("holds a group's history sends from other instances until the transaction that sent to it ends, and numbers them after it", async () => {
    const [sender, other] = (await instances(2)) as [PostgresChannelLayer, PostgresChannelLayer];
    const client = await connection();
    const watcher = await connection();
    const member = await other.newChannel();
    await other.groupAdd("room-held", member);
    await client.query("BEGIN");
    await sender.withClient(client).groupSend("room-held", { type: "in.transaction" });
    const outside = other.groupSend("room-held", { type: "outside" });
    // Event-driven: wait until the server shows the outside send waiting for the group's row lock.
    for (;;) {
      const { rows } = await watcher.query<{ waiting: number }>(
        `SELECT count(*)::int AS waiting FROM pg_stat_activity
         WHERE wait_event_type = 'Lock' AND query LIKE '%numbered AS%' AND pid <> $1`,
        [(client as unknown as { processID: number }).processID],
      );
      if ((rows[0]?.waiting ?? 0) > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await receiveOrNothing(other, member, SILENCE_MS), "nothing is delivered before the commit").toBeUndefined();
    await client.query("COMMIT");
    await outside;
    const first = await receiveWithin(other, member, ARRIVAL_MS);
    const second = await receiveWithin(other, member, ARRIVAL_MS);
    expect([first.type, second.type]).toEqual(["in.transaction", "outside"]);
    expect(second.__offset__ as number).toBeGreaterThan(first.__offset__ as number);
  });

  it("stamps a message with many keys, replacing the sender's own __group__ and __offset__ and nothing nested", async () => {
    const [layer] = (await instances(1)) as [PostgresChannelLayer];
    const member = await layer.newChannel();
    await layer.groupAdd("room-stamp", member);
    const fields = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`field${i}`, i]));
    const message = {
      __offset__: "mine",
      type: "stamped",
      ...fields,
      nested: { __offset__: 9_007_199_254_740_991, __group__: "inner" },
      __group__: "not-this",
      bytes: Buffer.from([0xd3, 0x7f, 0x3c]),
    };
    await layer.groupSend("room-stamp", message);
    const received = await receiveWithin(layer, member, ARRIVAL_MS);
    expect(received).toEqual({ ...message, __group__: "room-stamp", __offset__: received.__offset__ });
    expect(typeof received.__offset__).toBe("number");
  });

  it("never reissues an offset after a flush: an offset from before it is a gap", async () => {
    const [layer] = (await instances(1)) as [PostgresChannelLayer];
    const member = await layer.newChannel();
    await layer.groupAdd("room-flushed", member);
    await layer.groupSend("room-flushed", { type: "old" });
    const old = await receiveWithin(layer, member, ARRIVAL_MS);
    await layer.flush();
    await layer.groupAdd("room-flushed", member);
    await layer.groupSend("room-flushed", { type: "new" });
    const fresh = await receiveWithin(layer, member, ARRIVAL_MS);
    expect(fresh.__offset__ as number).toBeGreaterThan(old.__offset__ as number);
    const history = await layer.groupHistory("room-flushed", { after: old.__offset__ as HistoryOffset });
    expect(history).toEqual({ messages: [{ offset: fresh.__offset__, message: fresh }], complete: false });
    expect(await layer.groupHistory("room-flushed", { after: "not-an-offset" })).toEqual(history);
    expect(await layer.groupHistory("room-flushed", { after: (fresh.__offset__ as number) + 1000 })).toEqual(history);
  });

  it("deletes lapsed history and forgets the group in its cleanup, leaving a gap for an old offset", async () => {
    const [layer] = (await instances(1, { cleanupIntervalMs: 50 })) as [PostgresChannelLayer];
    const member = await layer.newChannel();
    await layer.groupAdd("short-lived", member);
    for (let n = 0; n < 5; n++) await layer.groupSend("short-lived", { type: "short", n });
    const received = [];
    for (let n = 0; n < 5; n++) received.push(await receiveWithin(layer, member, ARRIVAL_MS));
    const { historyTable, historyGroupTable } = layer.names;
    const kept = await db.query<{ count: number }>(`SELECT count(*)::int AS count FROM ${historyTable}`);
    expect(kept.rows[0]?.count, "maxLength 3 trims as it sends").toBe(3);
    // Calls start the cleanup when it is due; poll until it has removed the lapsed rows.
    for (;;) {
      await layer.groupAdd("other", member);
      const { rows } = await db.query<{ history: number; groups: number }>(
        `SELECT (SELECT count(*) FROM ${historyTable})::int AS history, (SELECT count(*) FROM ${historyGroupTable})::int AS groups`,
      );
      if (rows[0]?.history === 0 && rows[0]?.groups === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const after = received[4]?.__offset__ as HistoryOffset;
    expect(await layer.groupHistory("short-lived", { after })).toEqual({ messages: [], complete: false });
  });

  it("rejects a history message over maxMessageSize with MESSAGE_TOO_LARGE, keeping and delivering nothing", async () => {
    const [layer] = (await instances(1, { maxMessageSize: 1000 })) as [PostgresChannelLayer];
    const member = await layer.newChannel();
    await layer.groupAdd("room-large", member);
    const refused = await layer.groupSend("room-large", { type: "large", text: "x".repeat(1000) }).catch((e) => e);
    expect(refused).toMatchObject({ code: "MESSAGE_TOO_LARGE" });
    expect(await receiveOrNothing(layer, member, SILENCE_MS)).toBeUndefined();
    const kept = await db.query<{ count: number }>(`SELECT count(*)::int AS count FROM ${layer.names.historyTable}`);
    expect(kept.rows[0]?.count).toBe(0);
  });
});
