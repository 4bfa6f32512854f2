import { receiveOrNothing, receiveWithin } from "@channel-layers/core/conformance";
import type { PostgresChannelLayer } from "@channel-layers/postgres";
import { afterAll, describe, expect, it, onTestFinished } from "vitest";
import { randomPrefix, testDatabase } from "./database.js";

const database = await testDatabase();
afterAll(() => database?.drop());

const ARRIVAL_MS = 10_000;

/** Polls `check` until it returns true, failing after `ms`. */
async function eventually(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.runIf(database)("reconnecting (pg_terminate_backend on the layer's own connections)", () => {
  const db = database as NonNullable<typeof database>;

  async function pair(receiverOptions: { connectionString?: string; poolSize?: number } = {}) {
    const prefix = randomPrefix();
    const sender = db.layer({ prefix });
    // A reconnect delay long enough that the test can see the gap and send into it.
    const receiver = db.layer({ prefix, retryDelayMs: 1000, ...receiverOptions });
    onTestFinished(() => Promise.all([sender.close(), receiver.close()]).then(() => undefined));
    await Promise.all([sender.ready(), receiver.ready()]);
    return { sender, receiver };
  }

  const listenerPids = async (receiver: PostgresChannelLayer) =>
    (
      await db.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = $1", [
        `channel-layers ${receiver.ownNotifyChannel}`,
      ])
    ).rows.map((row) => row.pid);

  it("catches up from the table after its LISTEN connection is killed: nothing sent in the gap is lost", async () => {
    const { sender, receiver } = await pair();
    const locals = await Promise.all(Array.from({ length: 20 }, () => receiver.newChannel()));
    const waiting = [...locals, "gap-named"].map((channel) => receiveWithin(receiver, channel, ARRIVAL_MS));
    const [pid] = await listenerPids(receiver);
    expect(pid).toBeTypeOf("number");
    await db.query("SELECT pg_terminate_backend($1)", [pid]);
    await eventually(async () => (await listenerPids(receiver)).length === 0);
    // In the gap: no LISTEN connection, so these wake nobody; they wait in the table.
    for (const channel of [...locals, "gap-named"]) await sender.send(channel, { type: "in.the.gap", channel });
    for (let n = 0; n < 5; n++) await sender.send(locals[0] as string, { type: "backlog", n });
    expect(await listenerPids(receiver)).toEqual([]);
    const got = await Promise.all(waiting);
    expect(got).toEqual([...locals, "gap-named"].map((channel) => ({ type: "in.the.gap", channel })));
    for (let n = 0; n < 5; n++) {
      expect(await receiveWithin(receiver, locals[0] as string, ARRIVAL_MS)).toEqual({ type: "backlog", n });
    }
    expect((await listenerPids(receiver)).length).toBe(1);
    expect(receiver.stats()).toMatchObject({ reconnects: 1, listening: true });
    expect(receiver.stats().backgroundErrors).toBeGreaterThanOrEqual(1);
    // And the new connection wakes receivers as the old one did.
    const next = receiveWithin(receiver, locals[1] as string, ARRIVAL_MS);
    await sender.send(locals[1] as string, { type: "after.reconnect" });
    expect(await next).toEqual({ type: "after.reconnect" });
    expect(await receiveOrNothing(receiver, locals[1] as string, 200)).toBeUndefined();
  });

  it("keeps working when every connection it has (pool and LISTEN) is killed, again and again", async () => {
    const applicationName = `cl-reconnect-${randomPrefix()}`;
    const { sender, receiver } = await pair({
      connectionString: `${db.url}?application_name=${applicationName}`,
      poolSize: 3,
    });
    const pids = async () =>
      (
        await db.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = $1", [
          applicationName,
        ])
      ).rows.map((row) => row.pid);
    const channel = await receiver.newChannel();
    for (let round = 0; round < 3; round++) {
      const waiting = receiveWithin(receiver, channel, ARRIVAL_MS);
      await receiver.send("warm-the-pool", { type: "warm" });
      const before = await pids();
      expect(before.length).toBeGreaterThanOrEqual(2);
      await db.query("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", [before]);
      await eventually(async () => (await pids()).every((pid) => !before.includes(pid)));
      await sender.send(channel, { type: "round", round });
      expect(await waiting).toEqual({ type: "round", round });
      // Its own sends and receives go through a fresh pool connection.
      await receiver.send("own", { type: "own", round });
      expect(await receiveWithin(receiver, "own", ARRIVAL_MS)).toEqual({ type: "own", round });
      expect(await receiveWithin(receiver, "warm-the-pool", ARRIVAL_MS)).toEqual({ type: "warm" });
    }
  });
});
