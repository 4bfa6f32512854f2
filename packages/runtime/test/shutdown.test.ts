import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { afterEach, expect, it } from "vitest";
import { LiveWebsocketCommunicator } from "../src/testing/index.js";

const children: ChildProcess[] = [];
afterEach(() => {
  // child.kill() signals only a child Node has not reaped yet: a pid that has exited may already be someone else's.
  for (const child of children.splice(0)) child.kill("SIGKILL");
});

it("on SIGTERM closes sockets with 1001, runs disconnects (leaving groups), closes the layer and exits 0", async () => {
  const fixture = fileURLToPath(new URL("./fixtures/sigterm-server.ts", import.meta.url));
  const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", fixture], {
    cwd: fileURLToPath(new URL("..", import.meta.url)),
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
  const deadline = Date.now() + 20_000;
  while (!/listening (\S+)/.test(output)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`The server did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const url = (/listening (\S+)/.exec(output)?.[1] ?? "").replace("http", "ws");
  const clients = [new LiveWebsocketCommunicator(`${url}/ws/`), new LiveWebsocketCommunicator(`${url}/ws/`)];
  for (const client of clients) expect((await client.connect()).connected).toBe(true);

  child.kill("SIGTERM");
  for (const client of clients) expect((await client.waitForClose(10_000)).code).toBe(1001);
  const [code] = await exited;
  expect(code).toBe(0);
  const lines = output.trim().split("\n").slice(1);
  expect(lines).toEqual([
    "disconnect 1001",
    "disconnect 1001",
    'layer close {"channels":0,"groups":0,"memberships":0}',
  ]);
});
