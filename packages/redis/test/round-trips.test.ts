import { RedisChannelLayer, type RedisChannelLayerOptions } from "@channel-layers/redis";
import { startService, type TestService, waitFor } from "@channel-layers/testing";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HISTORY_APPEND, HISTORY_READ } from "../src/history-scripts.js";
import type { LuaScript } from "../src/lua-script.js";
import { PRESENCE_REFRESH, PRESENCE_SWEEP, PRESENCE_TRACK, PRESENCE_UNTRACK } from "../src/presence-scripts.js";
import { ACK, DELIVER_MANY, GROUP_MEMBERS, GROUP_SEND, RESERVE, SWEEP_HELD } from "../src/scripts.js";
import { freshPrefix } from "./redis-service.js";

// The cost issue 15 asks to document: the commands a history groupSend and a track send to Redis,
// read off MONITOR on a throwaway server (each is one round trip). A history groupSend must cost
// what a plain one costs: the group-send scripts append to the stream themselves.
const SCRIPTS: LuaScript[] = [
  GROUP_SEND,
  GROUP_MEMBERS,
  DELIVER_MANY,
  HISTORY_APPEND,
  HISTORY_READ,
  PRESENCE_TRACK,
  PRESENCE_UNTRACK,
  PRESENCE_REFRESH,
  PRESENCE_SWEEP,
];
/** Script sha (EVALSHA) or source (EVAL, which loads a script a server does not know yet) -> name. */
const NAMES = new Map(
  [...SCRIPTS, ACK, RESERVE, SWEEP_HELD].flatMap((script) => [
    [script.sha, script.name] as const,
    [script.source, script.name] as const,
  ]),
);
/** Commands of the layers' background work (receipts, markers, upkeep, receive loops), which these counts leave out. */
const BACKGROUND = new Set(["bzmpop", "info", "set", "ping", "client", "select", "hello", "zadd"]);
for (const script of [ACK, RESERVE, SWEEP_HELD]) BACKGROUND.add(script.name);

describe("round trips per call", () => {
  let redis: TestService | undefined;
  let monitor: Redis | undefined;
  let seen: string[] = [];
  beforeAll(async () => {
    redis = await startService("redis", { throwaway: true });
    if (!redis) return;
    monitor = await new Redis(redis.url).monitor();
    monitor.on("monitor", (_time: string, args: string[], source: string) => {
      if (source === "lua") return;
      const command = (args[0] ?? "").toLowerCase();
      const name = command === "evalsha" || command === "eval" ? (NAMES.get(args[1] ?? "") ?? command) : command;
      if (!BACKGROUND.has(name)) seen.push(name);
    });
  });
  afterAll(async () => {
    monitor?.disconnect();
    await redis?.stop();
  });

  /** The commands `work` sent, by script name (or command), once MONITOR has shown a marker after them. */
  async function commandsOf(marker: Redis, work: () => Promise<void>): Promise<Record<string, number>> {
    await work();
    const key = `marker-${Math.random()}`;
    await marker.get(key);
    await waitFor("MONITOR to show the marker", async () => seen.includes("get"));
    const counts: Record<string, number> = {};
    for (const name of seen.slice(0, seen.indexOf("get"))) counts[name] = (counts[name] ?? 0) + 1;
    seen = [];
    return counts;
  }

  async function layers(options: RedisChannelLayerOptions) {
    const url = (redis as TestService).url;
    const prefix = freshPrefix("round-trips");
    const settings = { ...options, hosts: [url], prefix, groupHistory: { "chat-*": { maxLength: 100 } } };
    const [sender, other] = [new RedisChannelLayer(settings), new RedisChannelLayer(settings)];
    // A member on another instance: what it gets is written by the sender's scripts.
    const remote = await other.newChannel();
    await sender.groupAdd("chat-room", remote);
    await sender.groupAdd("plain-room", remote);
    // Each script's first call on a server loads it (EVALSHA, NOSCRIPT, EVAL): counted apart.
    const channel = await sender.newChannel();
    await sender.groupSend("chat-room", { type: "warm-up" });
    await sender.groupSend("plain-room", { type: "warm-up" });
    await sender.presenceTrack("chat-room", channel, "warm-up");
    await sender.presenceUntrack("chat-room", channel, "warm-up");
    await sender.groupHistory("chat-room", { after: "0-1" });
    for (let n = 0; n < 4; n++) await other.receive(remote, { signal: AbortSignal.timeout(5000) });
    const marker = new Redis(url);
    await commandsOf(marker, async () => undefined);
    return { sender, other, marker };
  }

  for (const [path, options] of [
    ["one script (one Redis)", {}],
    ["two steps (capacity rules)", { channelCapacity: { "specific.*": 100 } }],
  ] as const) {
    it(`a history groupSend costs what a plain one does: ${path}`, async ({ skip }) => {
      if (!redis) skip();
      const { sender, other, marker } = await layers(options);
      try {
        const plain = await commandsOf(marker, async () => {
          for (let n = 0; n < 10; n++) await sender.groupSend("plain-room", { type: "m", n });
        });
        const history = await commandsOf(marker, async () => {
          for (let n = 0; n < 10; n++) await sender.groupSend("chat-room", { type: "m", n });
        });
        if (path.startsWith("one")) {
          expect(plain).toEqual({ "group-send": 10 });
          expect(history).toEqual({ "group-send": 10 });
        } else {
          expect(plain).toEqual({ "group-members": 10, "deliver-many": 10 });
          expect(history).toEqual({ "history-append": 10, "deliver-many": 10 });
        }
      } finally {
        marker.disconnect();
        await sender.flush();
        await Promise.all([sender.close(), other.close()]);
      }
    });
  }

  it("a track is one script and its diff one groupSend; an untrack likewise; a resume one script", async ({ skip }) => {
    if (!redis) skip();
    const { sender, other, marker } = await layers({ presenceHeartbeatMs: 60_000 });
    try {
      const channel = await sender.newChannel();
      expect(
        await commandsOf(marker, async () => void (await sender.presenceTrack("chat-room", channel, "a"))),
      ).toEqual({ "presence-track": 1, "group-send": 1 });
      expect(await commandsOf(marker, () => sender.presenceUntrack("chat-room", channel, "a"))).toEqual({
        "presence-untrack": 1,
        "group-send": 1,
      });
      expect(await commandsOf(marker, async () => void (await sender.presenceList("chat-room")))).toEqual({
        hgetall: 1,
      });
      expect(
        await commandsOf(marker, async () => void (await sender.groupHistory("chat-room", { after: "0-1" }))),
      ).toEqual({ "history-read": 1 });
    } finally {
      marker.disconnect();
      await sender.flush();
      await Promise.all([sender.close(), other.close()]);
    }
  });
});
