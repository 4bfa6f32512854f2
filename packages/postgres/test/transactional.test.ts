import { receiveOrNothing, receiveWithin } from "@channel-layers/core/conformance";
import type { PostgresChannelLayer } from "@channel-layers/postgres";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { randomPrefix, testDatabase } from "./database.js";

const database = await testDatabase();
afterAll(() => database?.drop());

const ARRIVAL_MS = 5000;
const SILENCE_MS = 300;

describe.runIf(database)("transactional send (withClient)", () => {
  const db = database as NonNullable<typeof database>;
  let client: pg.Client;

  beforeAll(async () => {
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${db.schema}"`);
    await client.query(`CREATE TABLE "${db.schema}".orders (id serial PRIMARY KEY, item text NOT NULL)`);
    return () => client.end();
  });

  /** Two instances of one layer: `sender` sends in the transaction, `receiver` receives. */
  async function pair(options: { capacity?: number } = {}): Promise<[PostgresChannelLayer, PostgresChannelLayer]> {
    const prefix = randomPrefix();
    const sender = db.layer({ prefix, ...options });
    const receiver = db.layer({ prefix, ...options });
    onTestFinished(async () => {
      await client.query("ROLLBACK").catch(() => undefined);
      await Promise.all([sender.close(), receiver.close()]);
    });
    await Promise.all([sender.ready(), receiver.ready()]);
    return [sender, receiver];
  }

  it("delivers a send made in a transaction once it commits, and wakes a receive already waiting", async () => {
    const [sender, receiver] = await pair();
    const local = await receiver.newChannel();
    const waiting = receiveWithin(receiver, local, ARRIVAL_MS);
    await client.query("BEGIN");
    await sender.withClient(client).send(local, { type: "order.placed", id: 1 });
    await sender.withClient(client).send("tx-named", { type: "order.placed", id: 1 });
    // Not before the commit: neither to the receive waiting on the local channel nor to a new one.
    expect(await receiveOrNothing(receiver, "tx-named", SILENCE_MS)).toBeUndefined();
    await client.query("COMMIT");
    expect(await waiting).toEqual({ type: "order.placed", id: 1 });
    expect(await receiveWithin(receiver, "tx-named", ARRIVAL_MS)).toEqual({ type: "order.placed", id: 1 });
  });

  it("delivers nothing from a transaction that rolls back, and the channel works on", async () => {
    const [sender, receiver] = await pair();
    const local = await receiver.newChannel();
    await client.query("BEGIN");
    await sender.withClient(client).send(local, { type: "never" });
    await sender.withClient(client).send("tx-named", { type: "never" });
    await client.query("ROLLBACK");
    expect(await receiveOrNothing(receiver, local, SILENCE_MS)).toBeUndefined();
    expect(await receiveOrNothing(receiver, "tx-named", SILENCE_MS)).toBeUndefined();
    await sender.send(local, { type: "after.rollback" });
    expect(await receiveWithin(receiver, local, ARRIVAL_MS)).toEqual({ type: "after.rollback" });
  });

  it("commits or rolls back a groupSend with the transaction, for every member", async () => {
    const [sender, receiver] = await pair();
    const members = [await receiver.newChannel(), await receiver.newChannel(), "tx-group-named"];
    for (const channel of members) await receiver.groupAdd("tx-room", channel);
    await client.query("BEGIN");
    await sender.withClient(client).groupSend("tx-room", { type: "rolled.back" });
    await client.query("ROLLBACK");
    await client.query("BEGIN");
    await sender.withClient(client).groupSend("tx-room", { type: "committed" });
    await client.query("COMMIT");
    for (const channel of members) {
      expect(await receiveWithin(receiver, channel, ARRIVAL_MS)).toEqual({ type: "committed" });
      expect(await receiveOrNothing(receiver, channel, SILENCE_MS)).toBeUndefined();
    }
  });

  it("keeps the message with the row written beside it: both or neither (an outbox without an outbox table)", async () => {
    const [sender, receiver] = await pair();
    const orders = `"${db.schema}".orders`;
    for (const outcome of ["ROLLBACK", "COMMIT"] as const) {
      await client.query("BEGIN");
      const inserted = await client.query<{ id: number }>(`INSERT INTO ${orders} (item) VALUES ($1) RETURNING id`, [
        outcome,
      ]);
      const id = inserted.rows[0]?.id;
      await sender.withClient(client).send("tx-orders", { type: "order.placed", id, outcome });
      await client.query(outcome);
    }
    const message = await receiveWithin<{ id: number; outcome: string }>(receiver, "tx-orders", ARRIVAL_MS);
    expect(message.outcome).toBe("COMMIT");
    const stored = await client.query(`SELECT item FROM ${orders} WHERE id = $1`, [message.id]);
    expect(stored.rows).toEqual([{ item: "COMMIT" }]);
    expect(await receiveOrNothing(receiver, "tx-orders", SILENCE_MS)).toBeUndefined();
  });

  it("rejects a send to a full channel with ChannelFull without aborting the transaction", async () => {
    const [sender, receiver] = await pair({ capacity: 1 });
    await sender.send("tx-full", { type: "first" });
    await client.query("BEGIN");
    await expect(sender.withClient(client).send("tx-full", { type: "second" })).rejects.toMatchObject({
      code: "CHANNEL_FULL",
    });
    // The transaction is still usable: a failed statement would have aborted it.
    await sender.withClient(client).send("tx-other", { type: "still.fine" });
    await client.query("COMMIT");
    expect(await receiveWithin(receiver, "tx-other", ARRIVAL_MS)).toEqual({ type: "still.fine" });
    expect(await receiveWithin(receiver, "tx-full", ARRIVAL_MS)).toEqual({ type: "first" });
  });

  it("checks names, messages and closed state before touching the client", async () => {
    const [sender] = await pair();
    const view = sender.withClient(client);
    await expect(view.send("bad name", { type: "x" })).rejects.toMatchObject({ code: "INVALID_NAME" });
    await expect(view.groupSend("bad!group", { type: "x" })).rejects.toMatchObject({ code: "INVALID_NAME" });
    await expect(view.send("fine", { text: "no type" } as never)).rejects.toMatchObject({ code: "INVALID_MESSAGE" });
    await sender.close();
    await expect(view.send("fine", { type: "x" })).rejects.toMatchObject({ code: "LAYER_CLOSED" });
    // Nothing reached the client: no transaction was opened by the layer, none is pending.
    const status = await client.query("SELECT 1 AS ok");
    expect(status.rows).toEqual([{ ok: 1 }]);
  });
});
