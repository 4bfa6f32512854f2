import { receiveWithin } from "@channel-layers/core/conformance";
import { migrate } from "@channel-layers/postgres";
import { afterAll, describe, expect, it, onTestFinished } from "vitest";
import { layerNames } from "../src/layer-names.js";
import { SCHEMA_VERSION } from "../src/schema.js";
import { randomPrefix, testDatabase } from "./database.js";

const database = await testDatabase();
afterAll(() => database?.drop());

const ARRIVAL_MS = 5000;

/** The tables as version 2 made them: no instance_id on memberships. */
function version2Tables(message: string, membership: string): string[] {
  return [
    `CREATE TABLE ${message} (
       id bigint GENERATED ALWAYS AS IDENTITY, channel text COLLATE "C" NOT NULL,
       expires_at timestamptz NOT NULL, payload bytea NOT NULL, PRIMARY KEY (channel, id))`,
    `CREATE TABLE ${membership} (
       group_name text COLLATE "C" NOT NULL, channel text COLLATE "C" NOT NULL, capacity integer NOT NULL,
       expires_at timestamptz NOT NULL, PRIMARY KEY (group_name, channel))`,
    `COMMENT ON TABLE ${message} IS 'channel-layers 2'`,
  ];
}

/** The tables as version 3 made them: messages and memberships, no history or presence tables. */
function version3Tables(message: string, membership: string): string[] {
  return [
    `CREATE TABLE ${message} (
       id bigint GENERATED ALWAYS AS IDENTITY, channel text COLLATE "C" NOT NULL,
       expires_at timestamptz NOT NULL, payload bytea NOT NULL, PRIMARY KEY (channel, id))`,
    `CREATE TABLE ${membership} (
       group_name text COLLATE "C" NOT NULL, channel text COLLATE "C" NOT NULL, capacity integer NOT NULL,
       expires_at timestamptz NOT NULL, instance_id text COLLATE "C", PRIMARY KEY (group_name, channel))`,
    `COMMENT ON TABLE ${message} IS 'channel-layers 3'`,
  ];
}

describe.runIf(database)("tables of an earlier version", () => {
  const db = database as NonNullable<typeof database>;

  it("refuses them with migrate: false, and migrate() upgrades them without losing a membership", async () => {
    const prefix = randomPrefix();
    const names = layerNames(db.schema, prefix);
    await db.query(`CREATE SCHEMA IF NOT EXISTS "${db.schema}"`);
    for (const statement of version2Tables(names.messageTable, names.membershipTable)) await db.query(statement);
    const receiver = db.layer({ prefix, migrate: false });
    const sender = db.layer({ prefix, migrate: false });
    onTestFinished(() => Promise.all([receiver.close(), sender.close()]).then(() => undefined));
    const refused = await receiver.ready().catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: "BACKEND_UNAVAILABLE" });
    expect((refused as Error).message).toContain("run migrate()");

    // Memberships version 2 wrote: one of the receiver's own process-local channels, one named channel.
    const instanceId = receiver.ownNotifyChannel.slice(names.notifyBase.length + 1);
    const local = `specific.${instanceId}!0123456789abcdef01234567`;
    for (const channel of [local, "upgraded-named"]) {
      await db.query(
        `INSERT INTO ${names.membershipTable} (group_name, channel, capacity, expires_at) VALUES ('room', $1, 10, now() + interval '1 hour')`,
        [channel],
      );
    }
    await migrate({ connectionString: db.url, schema: db.schema, prefix });
    const rows = await db.query<{ channel: string; instance_id: string | null }>(
      `SELECT channel, instance_id FROM ${names.membershipTable} ORDER BY channel`,
    );
    expect(rows.rows).toEqual([
      { channel: local, instance_id: instanceId },
      { channel: "upgraded-named", instance_id: null },
    ]);
    const comment = await db.query<{ comment: string }>("SELECT obj_description($1::regclass) AS comment", [
      names.messageTable,
    ]);
    expect(comment.rows[0]?.comment).toBe(SCHEMA_VERSION);

    // The layers made before the upgrade open on the next call, and the old memberships get messages.
    await receiver.ready();
    const waiting = [local, "upgraded-named"].map((channel) => receiveWithin(receiver, channel, ARRIVAL_MS));
    await sender.groupSend("room", { type: "after.upgrade" });
    expect(await Promise.all(waiting)).toEqual([{ type: "after.upgrade" }, { type: "after.upgrade" }]);
  });

  it("refuses version 3 tables with migrate: false; migrate() adds history and presence, keeping messages and members", async () => {
    const prefix = randomPrefix();
    const names = layerNames(db.schema, prefix);
    await db.query(`CREATE SCHEMA IF NOT EXISTS "${db.schema}"`);
    for (const statement of version3Tables(names.messageTable, names.membershipTable)) await db.query(statement);
    const options = { prefix, migrate: false, groupHistory: { "room-*": { maxLength: 10 } } };
    const receiver = db.layer(options);
    const sender = db.layer(options);
    onTestFinished(() => Promise.all([receiver.close(), sender.close()]).then(() => undefined));
    const refused = await receiver.ready().catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: "BACKEND_UNAVAILABLE" });
    expect((refused as Error).message).toContain("run migrate()");

    // What version 3 held: a message waiting on a named channel and a membership of it.
    await db.query(
      `INSERT INTO ${names.messageTable} (channel, expires_at, payload) VALUES ('v3-named', now() + interval '1 hour', $1)`,
      [Buffer.from([0x81, 0xa4, ...Buffer.from("type"), 0xa6, ...Buffer.from("before")])],
    );
    await db.query(
      `INSERT INTO ${names.membershipTable} (group_name, channel, capacity, expires_at) VALUES ('room-v3', 'v3-named', 10, now() + interval '1 hour')`,
    );
    await migrate({ connectionString: db.url, schema: db.schema, prefix });
    const comment = await db.query<{ comment: string }>("SELECT obj_description($1::regclass) AS comment", [
      names.messageTable,
    ]);
    expect(comment.rows[0]?.comment).toBe(SCHEMA_VERSION);

    await receiver.ready();
    expect(await receiveWithin(receiver, "v3-named", ARRIVAL_MS)).toEqual({ type: "before" });
    await sender.groupSend("room-v3", { type: "after.upgrade" });
    const kept = await receiveWithin(receiver, "v3-named", ARRIVAL_MS);
    expect(kept).toMatchObject({ type: "after.upgrade", __group__: "room-v3" });
    expect(await receiver.groupHistory("room-v3", { after: 0 })).toEqual({
      messages: [{ offset: kept.__offset__, message: kept }],
      complete: false,
    });
    const ref = await sender.presenceTrack("room-v3", await sender.newChannel(), "upgraded");
    expect(await receiver.presenceList("room-v3")).toEqual({ upgraded: { metas: [{ ref }] } });
  });
});
