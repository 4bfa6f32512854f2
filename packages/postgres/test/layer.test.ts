import { receiveOrNothing, receiveWithin } from "@channel-layers/core/conformance";
import { migrate, PostgresChannelLayer, uninstall } from "@channel-layers/postgres";
import { freePort } from "@channel-layers/testing";
import pg from "pg";
import { afterAll, describe, expect, it, onTestFinished } from "vitest";
import { randomPrefix, testDatabase } from "./database.js";

const database = await testDatabase();
afterAll(() => database?.drop());

const ARRIVAL_MS = 5000;
const SILENCE_MS = 300;

/** Polls `check` until it returns true, failing after `ms`. */
async function eventually(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe.runIf(database)("PostgresChannelLayer", () => {
  const db = database as NonNullable<typeof database>;
  const layer = (options: ConstructorParameters<typeof PostgresChannelLayer>[0] = {}) => {
    const made = db.layer(options);
    onTestFinished(() => made.close());
    return made;
  };
  const tableExists = async (name: string) =>
    (await db.query<{ found: boolean }>("SELECT to_regclass($1) IS NOT NULL AS found", [name])).rows[0]?.found === true;

  describe("tables", () => {
    it("creates its tables on first use, from several instances at once", async () => {
      const prefix = randomPrefix();
      const layers = Array.from({ length: 5 }, () => layer({ prefix }));
      await Promise.all(layers.map((each) => each.ready()));
      const names = layers[0]?.names;
      expect(await tableExists(names?.messageTable ?? "")).toBe(true);
      expect(await tableExists(names?.membershipTable ?? "")).toBe(true);
    });

    it("works on tables made by migrate() with migrate: false, and says what to do without them", async () => {
      const prefix = randomPrefix();
      const missing = layer({ prefix, migrate: false });
      const error = await missing.send("anything", { type: "x" }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "BACKEND_UNAVAILABLE" });
      expect((error as Error).message).toContain("migrate()");
      await Promise.all([1, 2, 3].map(() => migrate({ connectionString: db.url, schema: db.schema, prefix })));
      const ready = layer({ prefix, migrate: false });
      await ready.send("after-migrate", { type: "x" });
      expect(await receiveWithin(ready, "after-migrate", ARRIVAL_MS)).toEqual({ type: "x" });
    });

    it("uninstall() drops one prefix's tables and leaves other prefixes alone", async () => {
      const [gone, kept] = [layer(), layer()];
      await kept.send("kept", { type: "kept" });
      await gone.ready();
      await uninstall({ connectionString: db.url, schema: db.schema, prefix: gone.names.prefix });
      expect(await tableExists(gone.names.messageTable)).toBe(false);
      expect(await receiveWithin(kept, "kept", ARRIVAL_MS)).toEqual({ type: "kept" });
    });

    it("fails waiting receives with the reason when its tables are dropped under it, instead of waiting forever", async () => {
      const dropped = layer({ pollIntervalMs: 100 });
      await dropped.ready();
      const waiting = dropped.receive("tables-gone").catch((e: unknown) => e);
      await uninstall({ connectionString: db.url, schema: db.schema, prefix: dropped.names.prefix });
      const error = await waiting;
      expect(error).toMatchObject({ code: "BACKEND_UNAVAILABLE" });
      expect((error as Error).message).toContain("migrate()");
    });

    it("rejects options it cannot use with INVALID_OPTIONS", () => {
      for (const options of [
        { prefix: "has space" },
        { prefix: "x".repeat(41) },
        { schema: "" },
        { schema: "s".repeat(64) },
        { connectionString: db.url, pool: new pg.Pool() },
        { vacuumThreshold: -1 },
      ]) {
        expect(() => new PostgresChannelLayer(options), JSON.stringify(Object.keys(options))).toThrow(
          expect.objectContaining({ code: "INVALID_OPTIONS" }),
        );
      }
    });
  });

  describe("delivery", () => {
    it("keeps messages in the table across layer restarts (durable, not in memory)", async () => {
      const prefix = randomPrefix();
      const first = layer({ prefix });
      await first.send("durable", { type: "kept", n: 1 });
      await first.close();
      const second = layer({ prefix });
      expect(await receiveWithin(second, "durable", ARRIVAL_MS)).toEqual({ type: "kept", n: 1 });
    });

    it("wakes members when a groupSend's list of channels would not fit in one NOTIFY", async () => {
      const prefix = randomPrefix();
      const [sender, receiver] = [layer({ prefix }), layer({ prefix })];
      // 200 process-local names and 150 named ones: each list is well over NOTIFY's 8,000 bytes.
      const local = await Promise.all(Array.from({ length: 200 }, () => receiver.newChannel("wide-local-member")));
      const named = Array.from({ length: 150 }, (_, i) => `wide-named-member-with-a-long-name-${i}`);
      const members = [...local, ...named];
      await Promise.all(members.map((channel) => receiver.groupAdd("wide", channel)));
      const waiting = members.map((channel) => receiveWithin(receiver, channel, ARRIVAL_MS));
      await sender.groupSend("wide", { type: "wide" });
      for (const message of await Promise.all(waiting)) expect(message).toEqual({ type: "wide" });
    });

    it("reads a process-local channel ahead but leaves the messages in the table, counting against capacity, until received", async () => {
      const prefix = randomPrefix();
      const [owner, sender] = [layer({ prefix, capacity: 3 }), layer({ prefix, capacity: 3 })];
      const channel = await owner.newChannel();
      for (const n of [1, 2, 3]) await sender.send(channel, { type: "m", n });
      // This receive reads all three; two wait in the owner's buffer, still rows in the table.
      expect(await receiveWithin(owner, channel, ARRIVAL_MS)).toEqual({ type: "m", n: 1 });
      await sender.send(channel, { type: "m", n: 4 });
      await expect(sender.send(channel, { type: "m", n: 5 })).rejects.toMatchObject({ code: "CHANNEL_FULL" });
      for (const n of [2, 3, 4]) expect(await receiveWithin(owner, channel, ARRIVAL_MS)).toEqual({ type: "m", n });
      const rows = async () =>
        Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${owner.names.messageTable}`)).rows[0]?.n);
      await eventually(async () => (await rows()) === 0);
    });

    it("delivers a burst to many process-local members once each, in order, across wide reads and receipts", async () => {
      const prefix = randomPrefix();
      const [sender, receiver] = [layer({ prefix, capacity: 50 }), layer({ prefix, capacity: 50 })];
      const members = await Promise.all(Array.from({ length: 120 }, () => receiver.newChannel()));
      // Channels of the sender's own, in the same table, that the receiver's reads must leave alone.
      const others = await Promise.all(Array.from({ length: 5 }, () => sender.newChannel()));
      await Promise.all([...members, ...others].map((channel) => receiver.groupAdd("burst", channel)));
      const sends = 20;
      const received = members.map(async (channel) => {
        const got: unknown[] = [];
        for (let n = 0; n < sends; n++)
          got.push(((await receiveWithin(receiver, channel, ARRIVAL_MS)) as { n: number }).n);
        return got;
      });
      for (let n = 0; n < sends; n++) await sender.groupSend("burst", { type: "burst", n });
      const expected = Array.from({ length: sends }, (_, n) => n);
      for (const got of await Promise.all(received)) expect(got).toEqual(expected);
      for (const channel of members) expect(await receiveOrNothing(receiver, channel, 10)).toBeUndefined();
      for (const channel of others)
        expect(await receiveWithin(sender, channel, ARRIVAL_MS)).toEqual({ type: "burst", n: 0 });
    });

    it("sends from a pool it was handed and leaves that pool open on close", async () => {
      const pool = new pg.Pool({ connectionString: db.url, max: 2 });
      onTestFinished(() => pool.end());
      const handed = layer({ pool, connectionString: undefined });
      await handed.send("pooled", { type: "pooled" });
      expect(await receiveWithin(handed, "pooled", ARRIVAL_MS)).toEqual({ type: "pooled" });
      await handed.close();
      expect((await pool.query("SELECT 1 AS ok")).rows).toEqual([{ ok: 1 }]);
    });

    it("finds a named-channel message that reappears without a NOTIFY (a claimer died holding it) by polling", async () => {
      const prefix = randomPrefix();
      const [sender, receiver] = [layer({ prefix }), layer({ prefix, pollIntervalMs: 200 })];
      await sender.send("orphaned", { type: "orphaned" });
      // Another process locks the row as a claim would, then goes away without deleting it.
      const claimer = new pg.Client({ connectionString: db.url });
      await claimer.connect();
      onTestFinished(() => claimer.end().catch(() => undefined));
      await claimer.query("BEGIN");
      const locked = await claimer.query(`SELECT id FROM ${sender.names.messageTable} FOR UPDATE`);
      expect(locked.rowCount).toBe(1);
      const waiting = receiveWithin(receiver, "orphaned", ARRIVAL_MS);
      expect(await receiveOrNothing(receiver, "orphaned", SILENCE_MS)).toBeUndefined();
      await claimer.query("ROLLBACK");
      expect(await waiting).toEqual({ type: "orphaned" });
    });
  });

  describe("keeping the tables small", () => {
    it("removes expired messages and lapsed memberships in passing, without a receiver or a cron job", async () => {
      const small = layer({ expiry: 0.2, groupExpiry: 0.2, cleanupIntervalMs: 100 });
      for (let n = 0; n < 5; n++) await small.send("nobody-receives", { type: "stale", n });
      await small.groupAdd("lapsing", "nobody-receives");
      const count = async (table: string) =>
        Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]?.n);
      expect(await count(small.names.messageTable)).toBe(5);
      expect(await count(small.names.membershipTable)).toBe(1);
      // Expiry is about time passing: wait it out, then any call that comes due cleans up.
      await new Promise((resolve) => setTimeout(resolve, 400));
      await small.send("other", { type: "activity" });
      await eventually(async () => (await count(small.names.membershipTable)) === 0);
      await eventually(async () => (await count(small.names.messageTable)) === 1);
    });

    it("forgets the local state of channels that are done with", async () => {
      const busy = layer();
      const channels = await Promise.all(Array.from({ length: 50 }, () => busy.newChannel()));
      for (const channel of channels) await busy.send(channel, { type: "one" });
      for (const channel of channels) await receiveWithin(busy, channel, ARRIVAL_MS);
      const waiting = busy.receive(channels[0] as string).catch((e: unknown) => e);
      await busy.discardChannel(channels[0] as string);
      expect(await waiting).toMatchObject({ code: "CHANNEL_DISCARDED" });
      // Idle channels are swept at most once a second, by whichever receive comes due.
      await new Promise((resolve) => setTimeout(resolve, 1100));
      expect(await receiveOrNothing(busy, "another", 10)).toBeUndefined();
      expect(busy.stats().channels).toBeLessThanOrEqual(1);
    });
  });

  it("rejects with BACKEND_UNAVAILABLE when the server cannot be reached", async () => {
    const unreachable = new PostgresChannelLayer({
      connectionString: `postgres://postgres@127.0.0.1:${await freePort()}/x`,
    });
    onTestFinished(() => unreachable.close());
    await expect(unreachable.ready()).rejects.toMatchObject({ code: "BACKEND_UNAVAILABLE" });
    await expect(unreachable.send("x", { type: "x" })).rejects.toMatchObject({ code: "BACKEND_UNAVAILABLE" });
    await expect(unreachable.receive("x")).rejects.toMatchObject({ code: "BACKEND_UNAVAILABLE" });
    const connectionString = `postgres://postgres:secret@127.0.0.1:${await freePort()}/x`;
    for (const admin of [migrate, uninstall]) {
      const error = (await admin({ connectionString }).catch((e: unknown) => e)) as Error;
      expect(error).toMatchObject({ code: "BACKEND_UNAVAILABLE" });
      expect(error.message).toContain("postgres://postgres:***@127.0.0.1");
    }
  });
});
