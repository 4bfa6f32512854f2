import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeChannelLayers } from "@channel-layers/runtime";
import { servicesRequired } from "@channel-layers/testing";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type ChatServer, startChatServer } from "../src/app.js";
import { readSettings } from "../src/settings.js";

const CHROMIUM = "/usr/bin/chromium";
// CI installs Chromium (.ci/run); elsewhere a machine without it skips this file.
const available = existsSync(CHROMIUM) || servicesRequired();

let chat: ChatServer;
let context: BrowserContext;
let userDataDir = "";

beforeAll(async () => {
  if (!available) return;
  chat = await startChatServer({ ...readSettings({}), port: 0 }, { shutdownSignals: [] });
  userDataDir = mkdtempSync(join(tmpdir(), "chat-browser-"));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

afterAll(async () => {
  await context?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  await chat?.server.close();
  await closeChannelLayers();
});

/** Opens a room page and waits until its socket is open (the consumer joined the group before accepting). */
async function openRoom(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.waitForFunction("typeof chatSocket !== 'undefined' && chatSocket.readyState === WebSocket.OPEN");
}

const log = (page: Page) => page.inputValue("#chat-log");

it.skipIf(!available)("two pages in one room see each other's messages; a page in another room sees none", async () => {
  const base = chat.server.url;
  const [alice, bob, carol] = [await context.newPage(), await context.newPage(), await context.newPage()];
  await openRoom(alice, `${base}/chat/lobby/`);
  await openRoom(bob, `${base}/chat/lobby/`);

  // Carol arrives the tutorial's way: the index page asks for a room name.
  await carol.goto(`${base}/chat/`);
  await carol.fill("#room-name-input", "other");
  await carol.press("#room-name-input", "Enter");
  await carol.waitForURL(`${base}/chat/other/`);
  await carol.waitForFunction("typeof chatSocket !== 'undefined' && chatSocket.readyState === WebSocket.OPEN");

  await alice.fill("#chat-message-input", "hello from alice");
  await alice.click("#chat-message-submit");
  await bob.waitForFunction("document.querySelector('#chat-log').value.includes('hello from alice')");
  await alice.waitForFunction("document.querySelector('#chat-log').value.includes('hello from alice')");

  await bob.fill("#chat-message-input", "hi alice");
  await bob.press("#chat-message-input", "Enter");
  await alice.waitForFunction("document.querySelector('#chat-log').value.includes('hi alice')");

  // Carol's own message arrives after anything the lobby sent before it, had that leaked to her room.
  await carol.fill("#chat-message-input", "anyone here?");
  await carol.click("#chat-message-submit");
  await carol.waitForFunction("document.querySelector('#chat-log').value.includes('anyone here?')");

  expect(await log(carol)).toBe("anyone here?\n");
  expect(await log(alice)).toBe("hello from alice\nhi alice\n");
  expect(await log(bob)).toBe("hello from alice\nhi alice\n");
  expect(await alice.inputValue("#chat-message-input")).toBe("");
});
