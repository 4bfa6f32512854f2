import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { LiveWebsocketCommunicator } from "@channel-layers/runtime/testing";
import {
  chromiumLaunchOptions,
  freePorts,
  type LaunchedChromium,
  launchChromium,
  servicesRequired,
  startService,
  type TestService,
} from "@channel-layers/testing";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ChatExampleProcess } from "./support/chat-example.js";
import { NGINX, type NginxPorts, siteConfig, ThrowawayNginx } from "./support/nginx.js";

// docs/deployment.md's nginx config, tested: Debian's nginx in front of two processes of the chat
// example on one Redis. Headless Chromium opens pages through nginx (one pinned to each process,
// one through the upstream of both) and they chat; then a SIGTERM to one process sends its
// clients through nginx to the other, as in a rolling deploy.
const HOST = "chat.example.com";
if (servicesRequired() && !existsSync(NGINX)) throw new Error(`The nginx test needs ${NGINX} (.ci/run installs it)`);
// Under CI a missing Chromium throws here too.
const available = existsSync(NGINX) && chromiumLaunchOptions() !== undefined;

let redis: TestService | undefined;
let nginx: ThrowawayNginx | undefined;
let browser: LaunchedChromium<BrowserContext> | undefined;
let context: BrowserContext | undefined;
let ports: NginxPorts;
const processes: ChatExampleProcess[] = [];
const sockets: LiveWebsocketCommunicator[] = [];

beforeAll(async () => {
  if (!available) return;
  redis = await startService("redis");
  if (redis === undefined) return;
  const [shared, pinned1, pinned2, process1, process2] = (await freePorts(5)) as [
    number,
    number,
    number,
    number,
    number,
  ];
  ports = { shared, pinned: [pinned1, pinned2], processes: [process1, process2] };
  const prefix = `nginx${randomBytes(6).toString("hex")}`;
  for (const port of ports.processes) {
    processes.push(
      new ChatExampleProcess({
        PORT: String(port),
        CHANNEL_LAYER_URL: `${redis.url}${redis.url.includes("?") ? "&" : "?"}prefix=${prefix}`,
        // The browser's Origin is the public name, whatever nginx connects to.
        ALLOWED_HOSTS: HOST,
      }),
    );
  }
  await Promise.all(processes.map((chat) => chat.ready()));
  nginx = await ThrowawayNginx.start(siteConfig(ports), [shared, pinned1, pinned2]);
  // The public name resolves to this machine, as DNS would point it at nginx.
  browser = await launchChromium(chromium, [`--host-resolver-rules=MAP ${HOST} 127.0.0.1`]);
  context = browser?.context;
}, 90_000);

afterAll(async () => {
  await Promise.all(sockets.map((socket) => socket.disconnect().catch(() => undefined)));
  await browser?.close();
  await nginx?.stop();
  await Promise.all(processes.map((chat) => chat.stop()));
  await redis?.stop();
}, 60_000);

function showLogsOnFailure(test: { onTestFailed(handler: () => void): void }): void {
  test.onTestFailed(() => {
    for (const chat of processes) console.error(`--- chat example pid ${chat.child.pid}:\n${chat.output}`);
    console.error(`--- nginx error.log:\n${nginx?.errorLog()}`);
  });
}

const page = (port: number, path: string) => `http://${HOST}:${port}${path}`;

/** Opens a room page and waits until its client is connected; remembers how its first connection closes. */
async function openRoom(tab: Page, url: string): Promise<void> {
  await tab.goto(url);
  await tab.waitForFunction("window.chatClient?.state === 'open'");
  await tab.evaluate("chatClient.lifecycle.on('close', (event) => { window.closedWith ??= event.code; })");
}

async function say(tab: Page, message: string): Promise<void> {
  await tab.fill("#chat-message-input", message);
  await tab.click("#chat-message-submit");
}

const sees = (tab: Page, message: string) =>
  tab.waitForFunction(`document.querySelector('#chat-log').value.includes(${JSON.stringify(message)})`);

function socket(port: number, path: string, origin = `http://${HOST}:${port}`): LiveWebsocketCommunicator {
  const communicator = new LiveWebsocketCommunicator(`ws://127.0.0.1:${port}${path}`, { origin });
  sockets.push(communicator);
  return communicator;
}

let alice: Page;
let bob: Page;

it.skipIf(!available)(
  "pages pinned to each process, and one through the upstream of both, chat through nginx",
  async (test) => {
    if (redis === undefined || context === undefined) return test.skip("no Redis server");
    showLogsOnFailure(test);
    [alice, bob] = [await context.newPage(), await context.newPage()];
    const carol = await context.newPage();
    await openRoom(alice, page(ports.pinned[0], "/chat/lobby/"));
    await openRoom(bob, page(ports.pinned[1], "/chat/lobby/"));
    await openRoom(carol, page(ports.shared, "/chat/lobby/"));

    await say(alice, "hello from process 1");
    for (const tab of [alice, bob, carol]) await sees(tab, "hello from process 1");
    await say(bob, "hi from process 2");
    for (const tab of [alice, bob, carol]) await sees(tab, "hi from process 2");
    await say(carol, "and from the shared upstream");
    for (const tab of [alice, bob, carol]) await sees(tab, "and from the shared upstream");
    expect(await alice.inputValue("#chat-log")).toBe(
      "hello from process 1\nhi from process 2\nand from the shared upstream\n",
    );
    await carol.close();
  },
);

it.skipIf(!available)(
  "passes the browser's Origin and Host on: other sites are refused, this one's POSTs pass the CSRF check",
  async (test) => {
    if (redis === undefined) return test.skip("no Redis server");
    showLogsOnFailure(test);
    const foreign = socket(ports.shared, "/ws/chat/lobby/", "http://evil.example");
    expect(await foreign.connect()).toMatchObject({ connected: false, status: 403 });

    // A notification POSTed from alice's page (process 1) reaches a socket on process 2; the app's
    // CSRF check sees Origin and Host agree only because nginx passes Host on.
    const listener = socket(ports.pinned[1], "/ws/notification/seoul/");
    expect((await listener.connect()).connected).toBe(true);
    const status = await alice.evaluate(async () => {
      const response = await fetch("/notification/seoul/", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ data: "점검 안내" }),
      });
      return response.status;
    });
    expect(status).toBe(202);
    expect(await listener.receiveJsonFrom(10_000)).toEqual({ data: "점검 안내" });
  },
);

// Last: it stops process 1.
it.skipIf(!available)(
  "rolling deploy: SIGTERM closes process 1's sockets with 1001 and nginx sends the clients to process 2",
  async (test) => {
    if (redis === undefined) return test.skip("no Redis server");
    showLogsOnFailure(test);
    const [first] = processes;
    if (first === undefined) throw new Error("no chat process");
    const stopped = first.stop();
    await alice.waitForFunction("window.closedWith === 1001");
    expect(await stopped).toBe(0);

    // Alice reloads through the shared upstream: nginx finds process 1 refusing and takes process 2.
    await openRoom(alice, page(ports.shared, "/chat/lobby/"));
    await say(alice, "back, on process 2");
    await sees(bob, "back, on process 2");
    // Every new connection lands, whichever process nginx tries first.
    const late = Array.from({ length: 4 }, () => socket(ports.shared, "/ws/chat/lobby/"));
    for (const client of late) expect((await client.connect()).connected).toBe(true);
    await say(bob, "everyone here?");
    for (const client of late) expect(await client.receiveJsonFrom(10_000)).toEqual({ message: "everyone here?" });
    const ready = await fetch(`http://127.0.0.1:${ports.shared}/readyz`);
    expect([ready.status, await ready.json()]).toEqual([200, { status: "ready" }]);
  },
);
