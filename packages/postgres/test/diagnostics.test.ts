import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { DiagnosticsEvent } from "@channel-layers/core";
import { receiveWithin } from "@channel-layers/core/conformance";
import { PostgresChannelLayer } from "@channel-layers/postgres";
import { afterAll, describe, expect, it, onTestFinished } from "vitest";
import { randomPrefix, testDatabase } from "./database.js";

const database = await testDatabase();
afterAll(() => database?.drop());

const ARRIVAL_MS = 5000;

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
