import { closeChannelLayers, serve } from "@channel-layers/runtime";
import { chromiumLaunchOptions, type LaunchedChromium, launchChromium } from "@channel-layers/testing";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type ChatServer, startChatServer } from "../src/app.js";
import { createApplication } from "../src/asgi.js";
import { readSettings } from "../src/settings.js";

// CI installs Chromium (.ci/run) and fails without it; elsewhere a machine without it skips this file.
const available = chromiumLaunchOptions() !== undefined;
// Rooms keep 5 messages here, so a page away for more than 5 is told of the gap.
const settings = { ...readSettings({}), port: 0, chatHistoryLength: 5 };

let chat: ChatServer;
let browser: LaunchedChromium<BrowserContext> | undefined;
let context: BrowserContext;

beforeAll(async () => {
  if (!available) return;
  chat = await startChatServer(settings, { shutdownSignals: [] });
  browser = await launchChromium(chromium);
  if (browser === undefined) throw new Error("Chromium went missing");
  context = browser.context;
});

afterAll(async () => {
  await browser?.close();
  await chat?.server.close();
  await closeChannelLayers();
});

/** Opens a room page and waits until its client is connected (the consumer joined the room before accepting). */
async function openRoom(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.waitForFunction("window.chatClient?.state === 'open'");
}

const log = (page: Page) => page.inputValue("#chat-log");
const status = (page: Page) => page.textContent("#status");

/** Waits until the page's list of who is online reads `members`, e.g. ["alice", "bob"]. */
async function seesOnline(page: Page, members: string[]): Promise<void> {
  const expected = JSON.stringify(members);
  await page.waitForFunction(
    `JSON.stringify([...document.querySelectorAll('#online .member')].map((member) => member.textContent)) === ${JSON.stringify(expected)}`,
  );
}

const sees = (page: Page, message: string) =>
  page.waitForFunction(`document.querySelector('#chat-log').value.includes(${JSON.stringify(message)})`);

it.skipIf(!available)("two pages in one room see each other's messages; a page in another room sees none", async () => {
  const base = chat.server.url;
  const [alice, bob, carol] = [await context.newPage(), await context.newPage(), await context.newPage()];
  await openRoom(alice, `${base}/chat/lobby/?name=alice`);
  await openRoom(bob, `${base}/chat/lobby/?name=bob`);

  // Carol arrives the tutorial's way: the index page asks for a room name.
  await carol.goto(`${base}/chat/`);
  await carol.fill("#room-name-input", "other");
  await carol.press("#room-name-input", "Enter");
  await carol.waitForURL(`${base}/chat/other/`);
  await carol.waitForFunction("window.chatClient?.state === 'open'");

  await alice.fill("#chat-message-input", "hello from alice");
  await alice.click("#chat-message-submit");
  await sees(bob, "hello from alice");
  await sees(alice, "hello from alice");

  await bob.fill("#chat-message-input", "hi alice");
  await bob.press("#chat-message-input", "Enter");
  await sees(alice, "hi alice");

  // Carol's own message arrives after anything the lobby sent before it, had that leaked to her room.
  await carol.fill("#chat-message-input", "anyone here?");
  await carol.click("#chat-message-submit");
  await sees(carol, "anyone here?");

  expect(await log(carol)).toBe("anyone here?\n");
  expect(await log(alice)).toBe("hello from alice\nhi alice\n");
  expect(await log(bob)).toBe("hello from alice\nhi alice\n");
  expect(await alice.inputValue("#chat-message-input")).toBe("");
  for (const page of [alice, bob, carol]) await page.close();
});

it.skipIf(!available)("shows who is online, by name, as pages come and go", async () => {
  const base = chat.server.url;
  const [alice, bob, guest] = [await context.newPage(), await context.newPage(), await context.newPage()];
  await openRoom(alice, `${base}/chat/online/?name=alice`);
  await seesOnline(alice, ["alice"]);
  expect(await alice.textContent("#my-name")).toBe("alice");
  expect(await status(alice)).toBe("connected");

  await openRoom(bob, `${base}/chat/online/?name=bob`);
  await openRoom(guest, `${base}/chat/online/`);
  const guestName = (await guest.textContent("#my-name")) ?? "";
  expect(guestName).toMatch(/^guest-[0-9a-f]{1,4}$/);
  const everyone = ["alice", "bob", guestName].sort();
  for (const page of [alice, bob, guest]) await seesOnline(page, everyone);

  // A second tab of alice's counts as one more of hers; closing pages takes them off the list.
  const aliceAgain = await context.newPage();
  await openRoom(aliceAgain, `${base}/chat/online/?name=alice`);
  await seesOnline(bob, ["alice (2)", "bob", guestName].sort());
  await aliceAgain.close();
  await guest.close();
  await seesOnline(bob, ["alice", "bob"]);
  await seesOnline(alice, ["alice", "bob"]);
  expect(await alice.isHidden("#notice")).toBe(true);
  for (const page of [alice, bob]) await page.close();
});

it.skipIf(!available)(
  "reconnects by itself when the server comes back on its port, and shows what it missed once each",
  async () => {
    const base = chat.server.url;
    const [alice, bob] = [await context.newPage(), await context.newPage()];
    await openRoom(alice, `${base}/chat/restart/?name=alice`);
    await openRoom(bob, `${base}/chat/restart/?name=bob`);
    await bob.fill("#chat-message-input", "before");
    await bob.click("#chat-message-submit");
    await sees(alice, "before");

    // The server goes away; the pages say they are reconnecting; a view sends to the room meanwhile.
    const port = chat.server.port;
    await chat.server.close();
    for (const page of [alice, bob]) {
      await page.waitForFunction("document.querySelector('#status').textContent.startsWith('reconnecting')");
    }
    await alice.fill("#chat-message-input", "typed while away");
    await alice.click("#chat-message-submit");
    await alice.waitForFunction("document.querySelector('#status').textContent.endsWith('(1 to send)')");
    for (const message of ["m1", "m2", "m3"]) {
      await chat.layer.groupSend("chat_restart", { type: "chat_message", message });
    }
    chat.server = await serve(createApplication(settings), { host: settings.host, port, shutdownSignals: [] });

    for (const page of [alice, bob]) {
      await page.waitForFunction("document.querySelector('#status').textContent === 'connected'", undefined, {
        timeout: 30_000,
      });
      await sees(page, "typed while away");
      expect(await log(page)).toBe("before\nm1\nm2\nm3\ntyped while away\n");
      await seesOnline(page, ["alice", "bob"]);
      expect(await page.isHidden("#notice")).toBe(true);
    }
    for (const page of [alice, bob]) await page.close();
  },
);

it.skipIf(!available)("tells a page that was away for more than the room keeps, and shows what it keeps", async () => {
  const alice = await context.newPage();
  await openRoom(alice, `${chat.server.url}/chat/gap/?name=alice`);
  await chat.layer.groupSend("chat_gap", { type: "chat_message", message: "m0" });
  await sees(alice, "m0");
  await alice.evaluate("window.chatClient.close()");
  for (let n = 1; n <= 8; n++) await chat.layer.groupSend("chat_gap", { type: "chat_message", message: `m${n}` });
  await alice.evaluate("window.chatClient.connect()");
  await sees(alice, "m8");
  expect(await alice.textContent("#notice")).toBe("Some messages sent while you were away are too old to show.");
  expect(await log(alice)).toBe("m0\nm4\nm5\nm6\nm7\nm8\n");
  await alice.close();
});
