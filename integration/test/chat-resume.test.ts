import { randomBytes } from "node:crypto";
import { hasHistory, hasPresence } from "@channel-layers/core";
import { createChannelLayer } from "@channel-layers/runtime";
import {
  chromiumLaunchOptions,
  freePort,
  type LaunchedChromium,
  launchChromium,
  type ServiceKind,
  startService,
  type TestService,
} from "@channel-layers/testing";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { removePrefix } from "./remove-prefix.js";
import { ChatExampleProcess } from "./support/chat-example.js";

// Issue 15, item 4: the chat example shows who is online, reconnects by itself, and shows the
// messages missed while away. Two processes of the example on one backend, a headless Chromium
// page on each; process A is SIGKILLed while page B sends, and comes back on the same port.
// Issue 15 names Redis; PostgreSQL and NATS keep presence and history too, and run the same.
// CI installs Chromium (.ci/run) and fails without it; elsewhere a machine without it skips.
const available = chromiumLaunchOptions() !== undefined;

const KINDS: ServiceKind[] = ["redis", "postgres", "nats"];
// A dead process's entry goes within 11 s; ten heartbeats before a live one lapses on a loaded machine.
const PRESENCE_TIMINGS = "presenceHeartbeatMs=1000&presenceTimeoutMs=10000";

function layerUrl(service: TestService, prefix: string): string {
  return `${service.url}${service.url.includes("?") ? "&" : "?"}prefix=${prefix}&${PRESENCE_TIMINGS}`;
}

/** Which of presence and history the backend's layer lacks: [] when it has both. */
async function missingExtensions(url: string): Promise<string[]> {
  const probe = await createChannelLayer(url);
  try {
    return [...(hasPresence(probe) ? [] : ["presence"]), ...(hasHistory(probe) ? [] : ["history"])];
  } finally {
    await probe.close();
  }
}

const sees = (page: Page, message: string) =>
  page.waitForFunction(`document.querySelector('#chat-log').value.includes(${JSON.stringify(message)})`);

const statusIs = (page: Page, test: string) =>
  page.waitForFunction(`(${test})(document.querySelector('#status').textContent)`);

/** Waits until the page's list of who is online reads exactly `members`. */
function seesOnline(page: Page, members: string[]) {
  const expected = JSON.stringify(JSON.stringify(members));
  return page.waitForFunction(
    `JSON.stringify([...document.querySelectorAll('#online .member')].map((member) => member.textContent)) === ${expected}`,
  );
}

async function say(page: Page, message: string): Promise<void> {
  await page.fill("#chat-message-input", message);
  await page.click("#chat-message-submit");
}

describe.skipIf(!available).each(KINDS)("the chat example's pages across a crash, on %s", (kind) => {
  let service: TestService | undefined;
  let url = "";
  let missing: string[] = [];
  let browser: LaunchedChromium<BrowserContext> | undefined;
  let context: BrowserContext | undefined;
  const prefix = `resume${randomBytes(6).toString("hex")}`;
  const processes: ChatExampleProcess[] = [];

  beforeAll(async () => {
    service = await startService(kind);
    if (service === undefined) return;
    url = layerUrl(service, prefix);
    missing = await missingExtensions(url);
    if (missing.length > 0) return;
    browser = await launchChromium(chromium);
    context = browser?.context;
    if (context === undefined) return;
    // Waits are for events (a reconnect, a sweep of the dead process's entries): generous, never timing.
    context.setDefaultTimeout(60_000);
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all(processes.map((chat) => chat.stop()));
    if (service) await removePrefix(kind, service.url, prefix);
    await service?.stop();
  }, 60_000);

  function showOutputOnFailure(test: { onTestFailed(handler: () => void): void }): void {
    test.onTestFailed(() => {
      for (const chat of processes) console.error(`--- chat example pid ${chat.child.pid}:\n${chat.output}`);
    });
  }

  async function start(env: Record<string, string>): Promise<ChatExampleProcess> {
    const chat = new ChatExampleProcess({ CHANNEL_LAYER_URL: url, ...env });
    processes.push(chat);
    await chat.ready(60_000);
    expect(chat.output, "the example runs its rooms with presence and resume").toContain(
      "Rooms show who is online, resume after reconnect",
    );
    return chat;
  }

  it("page A reconnects by itself to A restarted on its port, shows what B sent meanwhile once each, and chats on", async (test) => {
    if (service === undefined) return test.skip(`no ${kind} server`);
    expect(
      missing,
      `Issue 15 (item 4) wants the chat example's pages to show who is online and resume on ${kind}`,
    ).toEqual([]);
    showOutputOnFailure(test);
    const portA = await freePort();
    const [first, second] = [await start({ PORT: String(portA) }), await start({})];
    if (context === undefined) throw new Error("no browser");
    const [alice, bob] = [await context.newPage(), await context.newPage()];
    await alice.goto(`${first.base}/chat/lobby/?name=alice`);
    await bob.goto(`${second.base}/chat/lobby/?name=bob`);
    for (const page of [alice, bob]) await statusIs(page, "(status) => status === 'connected'");
    for (const page of [alice, bob]) await seesOnline(page, ["alice", "bob"]);

    // Both pages have seen the room's latest message: alice's client holds its offset.
    await say(bob, "before the crash");
    await say(alice, "hello from alice");
    for (const page of [alice, bob]) await sees(page, "hello from alice");

    await first.kill();
    await statusIs(alice, "(status) => status.startsWith('reconnecting')");
    const missed = ["m1", "m2", "m3", "m4", "m5"];
    for (const message of missed) await say(bob, message);
    await sees(bob, "m5");

    await start({ PORT: String(portA) });
    await statusIs(alice, "(status) => status === 'connected'");
    await sees(alice, "m5");
    await say(alice, "back again");
    await sees(bob, "back again");
    await sees(alice, "back again");

    const expected = ["before the crash", "hello from alice", ...missed, "back again"]
      .map((line) => `${line}\n`)
      .join("");
    expect(await alice.inputValue("#chat-log"), "alice's log: the missed messages once each, in order").toBe(expected);
    expect(await bob.inputValue("#chat-log")).toBe(expected);
    expect(await alice.isHidden("#notice"), "no gap: the history reached back").toBe(true);
    // alice's entry of the killed process is swept; her new one stays: each page lists both, once.
    for (const page of [alice, bob]) await seesOnline(page, ["alice", "bob"]);
  }, 180_000);
});
