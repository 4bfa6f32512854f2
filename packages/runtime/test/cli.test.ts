import { randomBytes } from "node:crypto";
import { startService, type TestService } from "@channel-layers/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createChannelLayer } from "../src/index.js";
import { LiveWebsocketCommunicator } from "../src/testing/index.js";
import { CliProcess } from "./fixtures/cli-process.js";

// `channel-layers serve|runworker` run from the sources, talked to over WebSocket and the layer.
const APP = "test/fixtures/cli-app.ts";
const processes: CliProcess[] = [];
const sockets: LiveWebsocketCommunicator[] = [];
let redis: TestService | undefined;

beforeAll(async () => {
  redis = await startService("redis");
});
afterEach(async () => {
  await Promise.all(sockets.splice(0).map((socket) => socket.disconnect().catch(() => undefined)));
  for (const cli of processes.splice(0)) cli.kill();
});
afterAll(async () => {
  await redis?.stop();
});

function cli(args: string[], env: Record<string, string> = {}): CliProcess {
  const started = new CliProcess(args, env);
  processes.push(started);
  return started;
}

function redisUrl(): string {
  if (redis === undefined) throw new Error("No Redis server (set REDIS_URL)");
  const url = new URL(redis.url);
  url.search = `?prefix=cli${randomBytes(5).toString("hex")}`;
  return url.toString();
}

async function connect(base: string): Promise<{ socket: LiveWebsocketCommunicator; pid: string }> {
  const socket = new LiveWebsocketCommunicator(`${base.replace("http", "ws")}/ws/room/`);
  sockets.push(socket);
  expect((await socket.connect(10_000)).connected).toBe(true);
  const hello = await socket.receiveFrom(10_000);
  return { socket, pid: String(hello).replace("pid ", "") };
}

describe("channel-layers serve", () => {
  it("serves the app's sockets on the layer CHANNEL_LAYER_URL names, and shuts down on SIGTERM with exit 0", async () => {
    const server = cli(["serve", APP, "--host", "127.0.0.1", "--port", "0"], { CHANNEL_LAYER_URL: redisUrl() });
    const [listening] = await server.waitFor(/Listening on (http:\/\/\S+) \(channel layer: (\w+), pid (\d+)\)/);
    expect(listening?.[2]).toBe("RedisChannelLayer");
    const base = listening?.[1] ?? "";
    expect(await (await fetch(base)).text()).toBe(listening?.[3]);
    const [alice, bob] = [await connect(base), await connect(base)];
    await alice.socket.sendTo("hello room");
    expect(await bob.socket.receiveFrom(10_000)).toBe("hello room");
    expect(await alice.socket.receiveFrom(10_000)).toBe("hello room");

    server.child.kill("SIGTERM");
    expect((await alice.socket.waitForClose(10_000)).code).toBe(1001);
    expect((await bob.socket.waitForClose(10_000)).code).toBe(1001);
    expect(await server.exited).toEqual([0, null]);
  });

  it("--processes 2 runs two processes on one port that share the layer's groups", async () => {
    const server = cli(["serve", APP, "--port", "0", "--processes", "2"], { CHANNEL_LAYER_URL: redisUrl() });
    const listening = await server.waitFor(/Listening on (http:\/\/\S+) \(channel layer: \w+, pid (\d+)\)/, 2);
    const bases = new Set(listening.map((match) => match[1]));
    expect(bases.size).toBe(1);
    const base = [...bases][0] ?? "";
    // The primary hands connections to its processes in turn: open sockets until both have one.
    const byPid = new Map<string, LiveWebsocketCommunicator>();
    for (let attempt = 0; attempt < 20 && byPid.size < 2; attempt++) {
      const { socket, pid } = await connect(base);
      if (!byPid.has(pid)) byPid.set(pid, socket);
    }
    expect([...byPid.keys()].sort()).toEqual(listening.map((match) => match[2]).sort());
    const [first, second] = [...byPid.values()];
    await first?.sendTo("across processes");
    expect(await second?.receiveFrom(10_000)).toBe("across processes");

    server.child.kill("SIGTERM");
    for (const socket of byPid.values()) expect((await socket.waitForClose(10_000)).code).toBe(1001);
    expect(await server.exited).toEqual([0, null]);
  }, 90_000);

  it("takes serve()'s options from the app module's serverOptions export", async () => {
    const server = cli(["serve", APP, "--port", "0"], { CHANNEL_LAYER_URL: redisUrl(), CLI_APP_MAX_CONNECTIONS: "1" });
    const [listening] = await server.waitFor(/Listening on (http:\/\/\S+) \(channel layer/);
    const base = listening?.[1] ?? "";
    await connect(base);
    // maxConnections 1: with one socket open, the next connection is answered 503.
    expect((await fetch(base)).status).toBe(503);
  });
});

describe("channel-layers runworker", () => {
  it("runs the app's channel consumer for a message sent to its channel, on the app's channelLayers", async () => {
    const url = redisUrl();
    const worker = cli(["runworker", APP, "jobs"], { CLI_APP_LAYER: url });
    const [started] = await worker.waitFor(/Worker on jobs \(layer default: (\w+), pid (\d+)\)/);
    expect(started?.[1]).toBe("RedisChannelLayer");
    const layer = await createChannelLayer(url);
    try {
      const reply = await layer.newChannel();
      await layer.send("jobs", { type: "job.run", id: 7, reply });
      expect(await layer.receive(reply, { signal: AbortSignal.timeout(10_000) })).toEqual({
        type: "job.done",
        id: 7,
        pid: Number(started?.[2]),
      });
    } finally {
      await layer.flush();
      await layer.close();
    }
    worker.child.kill("SIGTERM");
    expect(await worker.exited).toEqual([0, null]);
  });
});

describe("usage", () => {
  it("prints the usage and exits 2 on a bad command line or app module, 0 on --help", async () => {
    const cases: [string[], RegExp][] = [
      [[], /Give a command/],
      [["serve"], /serve needs the app module/],
      [["serve", APP, "--layer", "jobs"], /serve does not take --layer/],
      [["serve", APP, "--port", "eighty"], /--port must be a whole number/],
      [["serve", APP, "--verbose"], /Unknown option '--verbose'/],
      [["runworker", APP], /runworker needs the app module and channels/],
      [["serve", "test/fixtures/no-such-app.js"], /No app module at test\/fixtures\/no-such-app.js/],
      [["serve", "test/fixtures/layers.ts"], /must export its application as the default export/],
    ];
    const runs = cases.map(([args]) => cli(args));
    for (const [index, run] of runs.entries()) {
      expect(await run.exited, run.output).toEqual([2, null]);
      expect(run.output).toMatch(cases[index]?.[1] as RegExp);
      expect(run.output).toContain("Usage:");
    }
    const help = cli(["--help"]);
    expect(await help.exited).toEqual([0, null]);
    expect(help.output).toContain("channel-layers serve <app>");
  }, 120_000);
});
