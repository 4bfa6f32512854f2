import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { closeChannelLayers, getChannelLayer } from "@channel-layers/runtime";
import { LiveWebsocketCommunicator } from "@channel-layers/runtime/testing";
import {
  freePort,
  portAnswers,
  servicesRequired,
  startService,
  type TestService,
  waitFor,
} from "@channel-layers/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendToRoom } from "./django-migration/send-to-room.js";
import { configureLikeDjango } from "./django-migration/settings.js";
import { ChatExampleProcess } from "./support/chat-example.js";
import { blocksNotFromFiles } from "./support/docs.js";

// docs/migrating-from-django-channels.md, tested: the seeds' consumers on Django Channels (Daphne,
// channels_redis 4) and the chat example on Node share one Redis and prefix during a migration.
const PYTHON = "/usr/bin/python3";
const DJANGO = fileURLToPath(new URL("../../examples/migrating/django/", import.meta.url));

/** Why Django Channels cannot run here, or undefined when it can. */
function djangoMissing(): string | undefined {
  if (!existsSync(PYTHON)) return `${PYTHON} is not installed`;
  try {
    execFileSync(PYTHON, ["-c", "import channels, channels_redis, daphne"], { stdio: "ignore" });
    return undefined;
  } catch {
    return "apt-get install python3-django-channels python3-channels-redis python3-daphne";
  }
}
const missing = djangoMissing();
if (missing !== undefined && servicesRequired())
  throw new Error(`The migration test needs Django Channels: ${missing}`);

it("the migration guide shows every consumer, routing, settings and test file exactly as they run", () => {
  const django = "examples/migrating/django/";
  const python = ["mysite/settings.py", "mysite/asgi.py", "tests/test_consumers.py"].concat(
    ...["app", "chat", "notification"].map((app) => [`${app}/consumers.py`, `${app}/routing.py`]),
  );
  const typescript = [
    ...["echo", "chat", "notification"].map((name) => `examples/chat/src/consumers/${name}.ts`),
    "examples/chat/src/routing.ts",
    "examples/chat/src/asgi.ts",
    "examples/chat/test/communicators.test.ts",
    "integration/test/django-migration/settings.ts",
    "integration/test/django-migration/send-to-room.ts",
  ];
  const shown = blocksNotFromFiles(
    "docs/migrating-from-django-channels.md",
    ["ts", "python"],
    [...python.map((file) => `${django}${file}`), ...typescript],
  );
  expect(shown).toEqual({ strayBlocks: [], missingFiles: [] });
});

describe.skipIf(missing !== undefined)("a Django Channels app and the Node chat example on one Redis", () => {
  let redis: TestService | undefined;
  let daphne: ChildProcess | undefined;
  let daphneOutput = "";
  let djangoBase = "";
  let node: ChatExampleProcess | undefined;
  const sockets: LiveWebsocketCommunicator[] = [];

  beforeAll(async () => {
    redis = await startService("redis");
    if (redis === undefined) return;
    // One fresh prefix for both apps (in production both keep channels_redis' default, "asgi").
    const env = { REDIS_URL: redis.url, CHANNEL_LAYER_PREFIX: `migrate${randomBytes(6).toString("hex")}` };
    const port = await freePort();
    daphne = spawn(PYTHON, ["-m", "daphne", "-b", "127.0.0.1", "-p", String(port), "mysite.asgi:application"], {
      cwd: DJANGO,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const keep = (chunk: Buffer) => {
      daphneOutput = (daphneOutput + chunk.toString()).slice(-4000);
    };
    daphne.stdout?.on("data", keep);
    daphne.stderr?.on("data", keep);
    djangoBase = `ws://127.0.0.1:${port}`;
    node = new ChatExampleProcess({ CHANNEL_LAYER_URL: `${env.REDIS_URL}?prefix=${env.CHANNEL_LAYER_PREFIX}` });
    // The Node side of this test process, as a view would be: the same settings as Django's.
    configureLikeDjango(env);
    await Promise.all([
      node.ready(),
      waitFor("Daphne to listen", async () => {
        if (daphne?.exitCode !== null) throw new Error(`Daphne exited:\n${daphneOutput}`);
        return portAnswers(port);
      }),
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(sockets.map((socket) => socket.disconnect().catch(() => undefined)));
    if (redis !== undefined) await (await getChannelLayer()).flush();
    await closeChannelLayers();
    await node?.stop();
    if (daphne !== undefined && daphne.exitCode === null && daphne.signalCode === null) {
      const exited = once(daphne, "exit");
      daphne.kill("SIGTERM");
      await exited;
    }
    await redis?.stop();
  }, 30_000);

  function showOutputOnFailure(test: { onTestFailed(handler: () => void): void }): void {
    test.onTestFailed(() => {
      console.error(`--- Daphne:\n${daphneOutput}\n--- Node chat example:\n${node?.output}`);
    });
  }

  async function connected(url: string): Promise<LiveWebsocketCommunicator> {
    const socket = new LiveWebsocketCommunicator(url);
    sockets.push(socket);
    expect((await socket.connect(10_000)).connected).toBe(true);
    return socket;
  }

  it("relays a chat message from a Node client to a Django client and back", async (test) => {
    if (redis === undefined || node === undefined) return test.skip("no Redis server");
    showOutputOnFailure(test);
    const onNode = await connected(`${node.base.replace("http", "ws")}/ws/chat/lobby/`);
    const onDjango = await connected(`${djangoBase}/ws/chat/lobby/`);

    await onNode.sendJsonTo({ message: "from Node" });
    expect(await onDjango.receiveJsonFrom(10_000)).toEqual({ message: "from Node" });
    expect(await onNode.receiveJsonFrom(10_000)).toEqual({ message: "from Node" });

    await onDjango.sendJsonTo({ message: "from Django" });
    expect(await onNode.receiveJsonFrom(10_000)).toEqual({ message: "from Django" });
    expect(await onDjango.receiveJsonFrom(10_000)).toEqual({ message: "from Django" });

    // A Node view's groupSend (settings like Django's) reaches both apps' sockets.
    await sendToRoom("lobby", "from a Node view");
    expect(await onDjango.receiveJsonFrom(10_000)).toEqual({ message: "from a Node view" });
    expect(await onNode.receiveJsonFrom(10_000)).toEqual({ message: "from a Node view" });
  });

  it("delivers a notification POSTed to the Node app to a Django socket of the center", async (test) => {
    if (redis === undefined || node === undefined) return test.skip("no Redis server");
    showOutputOnFailure(test);
    const onDjango = await connected(`${djangoBase}/ws/notification/seoul/`);
    const response = await fetch(`${node.base}/notification/seoul/`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ data: { title: "점검 안내", minutes: 30 } }),
    });
    expect(response.status).toBe(202);
    expect(await onDjango.receiveJsonFrom(10_000)).toEqual({ data: { title: "점검 안내", minutes: 30 } });
  });

  it("passes the Django app's own communicator tests (python3 manage.py test)", async () => {
    const { stderr } = await promisify(execFile)(PYTHON, ["manage.py", "test"], { cwd: DJANGO, timeout: 120_000 });
    expect(stderr).toMatch(/Ran 4 tests in [\d.]+s\n\nOK/);
  });
});
