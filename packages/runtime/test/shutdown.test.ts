import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";
import { InMemoryChannelLayer } from "@channel-layers/memory";
import { afterEach, expect, it } from "vitest";
import {
  AsyncConsumer,
  attach,
  closeChannelLayers,
  configureChannelLayers,
  getChannelLayer,
  onShutdown,
  runWorker,
  serve,
  shutdown,
  WebsocketConsumer,
} from "../src/index.js";
import { LiveWebsocketCommunicator } from "../src/testing/index.js";

const children: ChildProcess[] = [];
afterEach(() => {
  // child.kill() signals only a child Node has not reaped yet: a pid that has exited may already be someone else's.
  for (const child of children.splice(0)) child.kill("SIGKILL");
});

/** Runs a fixture process and gathers what it prints; `waitFor` polls its output. */
function runFixture(file: string, env: Record<string, string> = {}) {
  const fixture = fileURLToPath(new URL(`./fixtures/${file}`, import.meta.url));
  const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", fixture], {
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = once(child, "exit");
  const waitFor = async (pattern: RegExp) => {
    const deadline = Date.now() + 20_000;
    while (!pattern.test(output)) {
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(`Waited for ${pattern} in vain:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return pattern.exec(output);
  };
  return { child, exited, waitFor, lines: () => output.trim().split("\n") };
}

it("on SIGTERM closes sockets with 1001, runs disconnects (leaving groups), closes the layer and exits 0", async () => {
  const { child, exited, waitFor, lines } = runFixture("sigterm-server.ts");
  const url = ((await waitFor(/listening (\S+)/))?.[1] ?? "").replace("http", "ws");
  const clients = [new LiveWebsocketCommunicator(`${url}/ws/`), new LiveWebsocketCommunicator(`${url}/ws/`)];
  for (const client of clients) expect((await client.connect()).connected).toBe(true);

  child.kill("SIGTERM");
  for (const client of clients) expect((await client.waitForClose(10_000)).code).toBe(1001);
  const [code] = await exited;
  expect(code).toBe(0);
  expect(lines().slice(1)).toEqual([
    "disconnect 1001",
    "disconnect 1001",
    'layer close {"channels":0,"groups":0,"memberships":0}',
  ]);
});

it("serve() and runWorker() in one process: SIGTERM lets the job in flight finish, then hooks, then the layer; exit 0 without process.exit", async () => {
  const { child, exited, waitFor, lines } = runFixture("shutdown-process.ts");
  const url = ((await waitFor(/listening (\S+)/))?.[1] ?? "").replace("http", "ws");
  const clients = [new LiveWebsocketCommunicator(`${url}/ws/`), new LiveWebsocketCommunicator(`${url}/ws/`)];
  for (const client of clients) expect((await client.connect()).connected).toBe(true);
  await waitFor(/job started/);

  child.kill("SIGTERM");
  for (const client of clients) expect((await client.waitForClose(10_000)).code).toBe(1001);
  expect(await exited).toEqual([0, null]);
  const printed = lines();
  const at = (line: string) => printed.indexOf(line);
  expect(printed.filter((line) => line === "disconnect 1001")).toHaveLength(2);
  expect(printed.slice(-4)).toEqual([
    "job finished",
    "hook: job.done",
    'layer close {"channels":0,"groups":0,"memberships":0}',
    "still running after shutdown",
  ]);
  expect(printed.lastIndexOf("disconnect 1001")).toBeLessThan(at("hook: job.done"));
});

it("a job past the worker's deadline does not hold the shutdown up; exitOnShutdown ends a process kept alive", async () => {
  const { child, exited, waitFor, lines } = runFixture("shutdown-process.ts", { STUCK: "1" });
  await waitFor(/listening/);
  await waitFor(/job started/);
  child.kill("SIGTERM");
  expect(await exited).toEqual([0, null]);
  const printed = lines();
  expect(printed.indexOf("hook: nothing")).toBeGreaterThan(printed.indexOf("job started"));
  expect(printed.findIndex((line) => line.startsWith("layer close"))).toBeGreaterThan(printed.indexOf("hook: nothing"));
  // The job was cut off (its consumer fails once the layer is closed), and process.exit() ended the process.
  expect(printed).not.toContain("job finished");
  expect(printed).not.toContain("still running after shutdown");
});

class Room extends WebsocketConsumer {
  static override groups = ["room"];
}
class Idle extends AsyncConsumer {}

it("one coordinator: one signal handler for every server and worker, removed when the shutdown starts", async () => {
  configureChannelLayers({ default: "memory://" });
  const before = process.listenerCount("SIGTERM");
  const servers = [await serve(Room, { port: 0 }), await serve(Room, { port: 0 })];
  const worker = await runWorker({ idle: Idle });
  const httpServer = createServer();
  await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  const attached = await attach(httpServer, Room);
  expect(process.listenerCount("SIGTERM")).toBe(before + 1);
  expect(process.listenerCount("SIGINT")).toBeGreaterThan(0);

  const steps: string[] = [];
  const socket = new LiveWebsocketCommunicator(`${servers[0]?.url.replace("http", "ws")}/`);
  await socket.connect();
  const given = new InMemoryChannelLayer();
  const withGivenLayer = await serve(Room, { port: 0, channelLayer: given, shutdownSignals: [] });
  onShutdown(() => {
    steps.push(`hook 1: ${servers.every((server) => !server.httpServer.listening)}, ${worker.stopped}`);
    throw new Error("a hook that fails");
  });
  onShutdown(async () => {
    steps.push("hook 2");
    await new Promise<void>((resolve) => httpServer.close(() => resolve()));
  });
  const settingsLayer = (await getChannelLayer()) as InMemoryChannelLayer;
  const exitCode = process.exitCode;
  try {
    await shutdown();
  } finally {
    // The failing hook set the exit code to 1, as it should; this test process must not keep it.
    expect(process.exitCode).toBe(1);
    process.exitCode = exitCode;
  }
  expect(steps).toEqual(["hook 1: true, true", "hook 2"]);
  expect((await socket.waitForClose()).code).toBe(1001);
  expect(attached.connectionCount).toBe(0);
  expect(withGivenLayer.httpServer.listening).toBe(false);
  expect([settingsLayer.closed, given.closed]).toEqual([true, true]);
  expect(process.listenerCount("SIGTERM")).toBe(before);
  await closeChannelLayers();
  configureChannelLayers({});
});
