import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type Scope, WebsocketConsumer } from "@channel-layers/runtime";
import { LiveWebsocketCommunicator, WebsocketCommunicator } from "@channel-layers/runtime/testing";
import { freePort, servicesRequired, startService, waitFor } from "@channel-layers/testing";
import { describe, expect, it } from "vitest";
import { ProxyHeadersMiddleware } from "./deployment/proxy-headers.js";
import { blocksNotFromFiles } from "./support/docs.js";

// The files docs/deployment.md shows are these files, and each is checked as far as this machine
// allows: nginx's config runs in nginx.test.ts, the unit passes systemd-analyze, the recipe runs.
const DEPLOYMENT = new URL("./deployment/", import.meta.url);
const read = (name: string) => readFileSync(new URL(name, DEPLOYMENT), "utf8").trim();
const SYSTEMD_ANALYZE = "/usr/bin/systemd-analyze";
/** The runtime's command line, from its sources (the workspace has no dist/). */
const CLI = fileURLToPath(new URL("../../packages/runtime/src/cli.ts", import.meta.url));

it("docs/deployment.md shows the nginx config, the systemd unit, the Dockerfile and the TypeScript exactly as they are tested", () => {
  const files = ["nginx-chat.conf", "chat@.service", "Dockerfile", "app.ts", "proxy-headers.ts"];
  const shown = blocksNotFromFiles(
    "docs/deployment.md",
    ["ts", "nginx", "ini", "dockerfile"],
    files.map((file) => `integration/test/deployment/${file}`),
  );
  expect(shown).toEqual({ strayBlocks: [], missingFiles: [] });
});

describe("the systemd unit", () => {
  if (!existsSync(SYSTEMD_ANALYZE) && servicesRequired()) throw new Error(`${SYSTEMD_ANALYZE} is missing`);

  it.skipIf(!existsSync(SYSTEMD_ANALYZE))("passes systemd-analyze verify without a warning", async () => {
    // The unit as installed under /srv/chat, moved to a temp directory where its command exists.
    const root = mkdtempSync(join(tmpdir(), "unit-"));
    try {
      const bin = join(root, "srv/chat/node_modules/.bin");
      mkdirSync(bin, { recursive: true });
      symlinkSync(
        fileURLToPath(new URL("../../packages/runtime/bin/channel-layers.js", import.meta.url)),
        join(bin, "channel-layers"),
      );
      const unit = join(root, "chat@8001.service");
      writeFileSync(unit, read("chat@.service").replaceAll("/srv/chat", join(root, "srv/chat")));
      const { stdout, stderr } = await promisify(execFile)(SYSTEMD_ANALYZE, ["verify", unit]);
      expect(`${stdout}${stderr}`).toBe("");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("runs the docs' app module as its ExecStart and Environment say: health, a room, and a clean SIGTERM", async (test) => {
    const redis = await startService("redis");
    if (redis === undefined) return test.skip("no Redis server");
    const unit = read("chat@.service");
    const port = await freePort();
    const [, ...args] = (/^ExecStart=(.*)$/m.exec(unit)?.[1] ?? "").split(" ");
    const env = Object.fromEntries(
      [...unit.matchAll(/^Environment=(\w+)=(.*)$/gm)].map(([, name = "", value = ""]) => [name, value]),
    );
    // The same settings on the test's Redis, under a prefix of its own.
    const unitUrl = env.CHANNEL_LAYER_URL ?? "";
    expect(unitUrl).toMatch(/^redis:\/\/127\.0\.0\.1:6379\/0\?prefix=chat$/);
    env.CHANNEL_LAYER_URL = unitUrl
      .replace("redis://127.0.0.1:6379", redis.url.replace(/\/$/, ""))
      .replace("prefix=chat", `prefix=unit${randomBytes(5).toString("hex")}`);
    const commandLine = args.map((arg) =>
      arg === "dist/app.js" ? fileURLToPath(new URL("app.ts", DEPLOYMENT)) : arg.replace("%i", String(port)),
    );
    const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", CLI, ...commandLine], {
      cwd: fileURLToPath(new URL("../..", import.meta.url)),
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = once(child, "exit");
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    test.onTestFailed(() => console.error(`--- channel-layers serve:\n${output}`));
    try {
      await waitFor("the server to listen", async () => output.includes("Listening on"));
      const base = `http://127.0.0.1:${port}`;
      expect(output).toContain("channel layer: RedisChannelLayer");
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect(await (await fetch(`${base}/readyz`)).json()).toEqual({ status: "ready" });
      const origin = "https://chat.example.com";
      const [alice, bob] = [0, 1].map(
        () => new LiveWebsocketCommunicator(`ws://127.0.0.1:${port}/ws/rooms/lobby/`, { origin }),
      ) as [LiveWebsocketCommunicator, LiveWebsocketCommunicator];
      for (const socket of [alice, bob]) expect((await socket.connect()).connected).toBe(true);
      await alice.sendJsonTo({ text: "hello" });
      expect(await bob.receiveJsonFrom(10_000)).toEqual({ text: "hello" });

      child.kill("SIGTERM");
      for (const socket of [alice, bob]) expect((await socket.waitForClose(10_000)).code).toBe(1001);
      expect(await exited).toEqual([0, null]);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  });
});

describe("ProxyHeadersMiddleware", () => {
  /** Sends back the client address and scheme it sees. */
  class WhoAmI extends WebsocketConsumer {
    static override channelLayer = null;
    override async connect() {
      await this.accept();
      await this.send(JSON.stringify({ client: this.scope.client, scheme: this.scope.scheme }));
    }
  }

  async function seen(client: [string, number], headers: Record<string, string>): Promise<unknown> {
    const scope: Partial<Scope> = { client, scheme: "ws" };
    const communicator = new WebsocketCommunicator(ProxyHeadersMiddleware(WhoAmI), "/ws/", { headers, scope });
    expect((await communicator.connect()).connected).toBe(true);
    const answer = await communicator.receiveJsonFrom();
    await communicator.disconnect();
    return answer;
  }

  it("takes the client nginx saw and the scheme from a trusted proxy's headers", async () => {
    const headers = { "x-forwarded-for": "10.9.9.9, 203.0.113.7", "x-forwarded-proto": "https" };
    expect(await seen(["127.0.0.1", 40000], headers)).toEqual({ client: ["203.0.113.7", 0], scheme: "wss" });
  });

  it("ignores the headers from anyone else, and leaves the scope alone without them", async () => {
    const headers = { "x-forwarded-for": "203.0.113.7", "x-forwarded-proto": "https" };
    expect(await seen(["198.51.100.4", 40000], headers)).toEqual({ client: ["198.51.100.4", 40000], scheme: "ws" });
    expect(await seen(["127.0.0.1", 40000], {})).toEqual({ client: ["127.0.0.1", 40000], scheme: "ws" });
  });
});
