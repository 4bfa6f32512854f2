import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { DiagnosticsEvent } from "@channel-layers/core";
import { receiveWithin } from "@channel-layers/core/conformance";
import { PostgresChannelLayer } from "@channel-layers/postgres";
import { waitFor } from "@channel-layers/testing";
import { afterAll, describe, expect, it, onTestFinished } from "vitest";
import { randomPrefix, testDatabase } from "./database.js";

const database = await testDatabase();
afterAll(() => database?.drop());

const ARRIVAL_MS = 5000;

/** Bytes a peer might write that are no message of this layer's, each with why. */
const UNDECODABLE: [string, Buffer][] = [
  ["no type", Buffer.from([0x81, 0xa1, 0x61, 0x01])], // { a: 1 }
  // { type: "x", at: <msgpack timestamp extension> }: a Date from msgpackr's extensions
  [
    "an extension type",
    Buffer.from([0x82, 0xa4, ...Buffer.from("type"), 0xa1, 0x78, 0xa2, 0x61, 0x74, 0xd6, 0xff, 0, 0, 0, 0]),
  ],
  // { type: "x", __asgi_channel__: "c" }: channels_redis's key, which nothing writes here
  [
    "the reserved key",
    Buffer.from([0x82, 0xa4, ...Buffer.from("type"), 0xa1, 0x78, 0xb0, ...Buffer.from("__asgi_channel__"), 0xa1, 0x63]),
  ],
  ["no MessagePack at all", Buffer.from([0xc1])],
];

/** Events the layers publish on channel-layers:postgres until the test ends. */
function watchEvents(): DiagnosticsEvent[] {
  const events: DiagnosticsEvent[] = [];
  const listener = (event: unknown) => events.push(event as DiagnosticsEvent);
  subscribe("channel-layers:postgres", listener);
  onTestFinished(() => void unsubscribe("channel-layers:postgres", listener));
  return events;
}

describe("options", () => {
  it("refuses the options of earlier versions by name, saying what they are now", () => {
    for (const [old, now] of [
      ["timeout", "timeoutMs"],
      ["pollInterval", "pollIntervalMs"],
      ["cleanupInterval", "cleanupIntervalMs"],
      ["reconnectDelay", "retryDelayMs"],
      ["maxReconnectDelay", "maxRetryDelayMs"],
    ]) {
      const make = () => new PostgresChannelLayer({ [old as string]: 1 });
      expect(make).toThrow(expect.objectContaining({ code: "INVALID_OPTIONS" }));
      expect(make).toThrow(now);
    }
    expect(() => new PostgresChannelLayer({ retryDelayMs: 500, maxRetryDelayMs: 100 })).toThrow(
      expect.objectContaining({ code: "INVALID_OPTIONS" }),
    );
  });
});

describe.runIf(database)("stats() and the diagnostics channel", () => {
  const db = database as NonNullable<typeof database>;

  it("counts sends, receives, full channels and full group members, and says whether it listens", async () => {
    const prefix = randomPrefix();
    const layer = db.layer({ prefix, capacity: 1 });
    onTestFinished(() => layer.close());
    expect(layer.stats()).toMatchObject({ backend: "postgres", sent: 0, channelFull: 0 });
    const [a, b] = [await layer.newChannel(), await layer.newChannel()];
    await layer.groupAdd("counted", a);
    await layer.groupAdd("counted", b);
    await layer.groupAdd("counted", "counted-named");
    await layer.send(a, { type: "fills.a" });
    await expect(layer.send(a, { type: "refused" })).rejects.toMatchObject({ code: "CHANNEL_FULL" });
    // a is full: the groupSend skips it and reaches b and the named member.
    await layer.groupSend("counted", { type: "to.group" });
    expect(await receiveWithin(layer, b, ARRIVAL_MS)).toEqual({ type: "to.group" });
    expect(await receiveWithin(layer, "counted-named", ARRIVAL_MS)).toEqual({ type: "to.group" });
    expect(await receiveWithin(layer, a, ARRIVAL_MS)).toEqual({ type: "fills.a" });
    expect(layer.stats()).toMatchObject({
      backend: "postgres",
      sent: 2,
      groupSends: 1,
      received: 3,
      channelFull: 2,
      droppedUndecodable: 0,
      lostSends: 0,
      listening: true,
    });
    expect(layer.stats().channels).toBeGreaterThanOrEqual(1);
  });

  it("publishes open-failed, and every call rejects with BACKEND_UNAVAILABLE naming where it connects", async () => {
    const events = watchEvents();
    const layer = new PostgresChannelLayer({
      connectionString: "postgres://someone:hunter2@127.0.0.1:1/nowhere",
      prefix: randomPrefix(),
    });
    onTestFinished(() => layer.close());
    const error = (await layer.send("x", { type: "x" }).catch((e: unknown) => e)) as Error;
    expect(error).toMatchObject({ code: "BACKEND_UNAVAILABLE" });
    expect(error.message).toContain("postgres://someone:***@127.0.0.1:1/nowhere");
    expect(error.message).not.toContain("hunter2");
    expect(events.some((event) => event.event === "open-failed")).toBe(true);
  });
});

describe.runIf(database)("strict decoding of what is in the table", () => {
  const db = database as NonNullable<typeof database>;

  it("drops rows that are no valid message, counts and publishes them, and delivers the next good one", async () => {
    const events = watchEvents();
    const layer = db.layer();
    onTestFinished(() => layer.close());
    const local = await layer.newChannel();
    for (const channel of [local, "strict-named"]) {
      for (const [, payload] of UNDECODABLE) {
        await db.query(
          `INSERT INTO ${layer.names.messageTable} (channel, expires_at, payload) VALUES ($1, now() + interval '1 minute', $2)`,
          [channel, payload],
        );
      }
      await layer.send(channel, { type: "good", after: "the bad rows" });
      expect(await receiveWithin(layer, channel, ARRIVAL_MS)).toEqual({ type: "good", after: "the bad rows" });
    }
    expect(layer.stats()).toMatchObject({ droppedUndecodable: 2 * UNDECODABLE.length, received: 2 });
    const dropped = events.filter((event) => event.event === "dropped" && event.reason === "undecodable");
    expect(dropped.map((event) => event.details?.channel).sort()).toEqual(
      [...UNDECODABLE.map(() => local), ...UNDECODABLE.map(() => "strict-named")].sort(),
    );
    // Dropped rows are deleted like received ones: by the claim (named) or by their receipts (process-local).
    await waitFor("the dropped rows to be deleted", async () => {
      const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${layer.names.messageTable}`);
      return rows[0]?.n === 0;
    });
  });
});
