import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { LiveWebsocketCommunicator } from "../src/testing/index.js";
import { CliProcess } from "./fixtures/cli-process.js";
import { installRuntimeOutsideWorkspace } from "./fixtures/outside-install.js";

// The runtime as an app outside the workspace gets it: compiled dist, plain node, no tsx, and no
// backend package installed (so importing one fails for real, not through a mock).
const run = promisify(execFile);
let appDir = "";
const processes: CliProcess[] = [];

beforeAll(async () => {
  appDir = mkdtempSync(join(tmpdir(), "channel-layers-app-"));
  await installRuntimeOutsideWorkspace(appDir);
  writeFileSync(
    join(appDir, "app.mjs"),
    `import { ProtocolTypeRouter, URLRouter, path, WebsocketConsumer } from "@channel-layers/runtime";
class Echo extends WebsocketConsumer {
  async receive(data) {
    await this.send("echo " + data);
  }
}
export default ProtocolTypeRouter({ websocket: URLRouter([path("ws/", Echo)]) });
`,
  );
}, 240_000);
afterEach(() => {
  for (const cli of processes.splice(0)) cli.kill();
});
afterAll(() => {
  if (appDir) rmSync(appDir, { recursive: true, force: true });
});

const CLI = () => join(appDir, "node_modules", "@channel-layers", "runtime", "bin", "channel-layers.js");

it("the channel-layers bin runs the compiled CLI under plain node: serves the app, and exits 0 on SIGTERM", async () => {
  // Run as the bin itself: its #!/usr/bin/env node line picks plain node.
  const server = new CliProcess(["serve", "app.mjs", "--port", "0"], {}, { command: [CLI()], cwd: appDir });
  processes.push(server);
  const [listening] = await server.waitFor(/Listening on (http:\/\/\S+) \(channel layer: (\w+)/);
  expect(listening?.[2]).toBe("InMemoryChannelLayer");
  const socket = new LiveWebsocketCommunicator(`${listening?.[1]?.replace("http", "ws")}/ws/`);
  expect((await socket.connect()).connected).toBe(true);
  await socket.sendTo("from outside");
  expect(await socket.receiveFrom()).toBe("echo from outside");
  server.child.kill("SIGTERM");
  expect((await socket.waitForClose(10_000)).code).toBe(1001);
  expect(await server.exited).toEqual([0, null]);
});

it("a backend package that is not installed gives BACKEND_NOT_INSTALLED naming the package to install", async () => {
  writeFileSync(
    join(appDir, "check.mjs"),
    `import { createChannelLayer } from "@channel-layers/runtime";
for (const url of process.argv.slice(2)) {
  try {
    const layer = await createChannelLayer(url);
    console.log(JSON.stringify({ url, made: layer.constructor.name }));
    await layer.close();
  } catch (error) {
    console.log(JSON.stringify({ url, name: error.name, code: error.code, packageName: error.packageName, message: error.message }));
  }
}
`,
  );
  const urls = [
    "memory://",
    "redis://127.0.0.1:6379",
    "rediss://:pw@cache:6380",
    "postgres://postgres@db/app",
    "nats://n1",
  ];
  const { stdout } = await run(process.execPath, ["check.mjs", ...urls], { cwd: appDir, timeout: 60_000 });
  const results = stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line));
  expect(results[0]).toEqual({ url: "memory://", made: "InMemoryChannelLayer" });
  const expected = [
    "@channel-layers/redis",
    "@channel-layers/redis",
    "@channel-layers/postgres",
    "@channel-layers/nats",
  ];
  for (const [index, packageName] of expected.entries()) {
    expect(results[index + 1]).toMatchObject({
      name: "BackendNotInstalled",
      code: "BACKEND_NOT_INSTALLED",
      packageName,
    });
    expect(results[index + 1].message).toContain(`npm install ${packageName}`);
  }

  // The CLI says the same and exits 1 instead of serving on another layer.
  const server = new CliProcess(
    ["serve", "app.mjs", "--port", "0"],
    { CHANNEL_LAYER_URL: "redis://127.0.0.1:6379" },
    { command: [process.execPath, CLI()], cwd: appDir },
  );
  processes.push(server);
  expect(await server.exited).toEqual([1, null]);
  expect(server.output).toContain("npm install @channel-layers/redis");
});
