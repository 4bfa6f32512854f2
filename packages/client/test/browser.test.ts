import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  JsonWebsocketConsumer,
  ProtocolTypeRouter,
  path,
  serve,
  URLRouter,
  type WebsocketServer,
} from "@channel-layers/runtime";
import { chromiumLaunchOptions, type LaunchedChromium, launchChromium } from "@channel-layers/testing";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";

// CI installs Chromium (.ci/run) and requires it; elsewhere a machine without it skips this file.
const available = chromiumLaunchOptions() !== undefined;

/** Echoes `echo.request` frames back as `echo.reply`; `restart.me` closes with 1012 (service restart). */
class EchoConsumer extends JsonWebsocketConsumer {
  override async receiveJson(content: unknown) {
    const { type, text } = content as { type?: unknown; text?: unknown };
    if (type === "restart.me") await this.close(1012, "service restart");
    else await this.sendJson({ type: "echo.reply", text });
  }
}

/** The page: the compiled client, imported by a plain module script, no bundler and no import map. */
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>client</title>
<script type="module">
  import { ChannelLayersClient } from "/client/index.js";
  window.received = [];
  window.lifecycle = [];
  const client = new ChannelLayersClient(\`ws://\${location.host}/ws/echo/\`, { reconnectDelayMs: 20 });
  client.on("echo.reply", (message) => received.push(message.text));
  client.lifecycle.on("open", (event) => lifecycle.push(event.reconnected ? "reopen" : "open"));
  client.lifecycle.on("close", (event) => lifecycle.push(\`close \${event.code} \${event.reason}\`));
  window.client = client;
</script>`;

let compiled = "";
let server: WebsocketServer;
let context: BrowserContext;
let browser: LaunchedChromium<BrowserContext> | undefined;

/** Serves the page and the compiled client's files, as text/javascript so the browser runs them as modules. */
function serveStatic(request: IncomingMessage, response: ServerResponse): void {
  const url = new URL(request.url ?? "/", "http://localhost");
  if (url.pathname === "/") {
    response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    response.end(PAGE);
    return;
  }
  const file = normalize(join(compiled, url.pathname.replace(/^\/client\//, "")));
  if (url.pathname.startsWith("/client/") && file.startsWith(compiled) && existsSync(file)) {
    response.writeHead(200, { "content-type": "text/javascript; charset=utf-8" });
    response.end(readFileSync(file));
    return;
  }
  response.writeHead(404);
  response.end();
}

beforeAll(async () => {
  if (!available) return;
  // Compiled fresh with the package's own tsconfig, so the test never runs a stale dist/.
  compiled = mkdtempSync(join(tmpdir(), "client-dist-"));
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const project = fileURLToPath(new URL("../tsconfig.json", import.meta.url));
  await promisify(execFile)(process.execPath, [tsc, "-p", project, "--outDir", compiled]);

  const application = ProtocolTypeRouter({
    http: serveStatic,
    websocket: URLRouter([path("ws/echo/", EchoConsumer)]),
  });
  server = await serve(application, { port: 0, shutdownSignals: [] });
  browser = await launchChromium(chromium);
  if (browser === undefined) throw new Error("Chromium went missing");
  context = browser.context;
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (compiled) rmSync(compiled, { recursive: true, force: true });
});

it.skipIf(!available)("the compiled client runs in Chromium: round trips, and reconnects after a 1012", async () => {
  const page: Page = await context.newPage();
  const pageErrors: string[] = [];
  page.on("pageerror", (error) => pageErrors.push(error.message));
  await page.goto(server.url);
  await page.waitForFunction("window.lifecycle?.includes('open')");

  await page.evaluate("client.send({ type: 'echo.request', text: 'hello from the page' })");
  await page.waitForFunction("received.includes('hello from the page')");

  await page.evaluate("client.send({ type: 'restart.me' })");
  await page.waitForFunction("lifecycle.includes('reopen')");
  await page.evaluate("client.send({ type: 'echo.request', text: 'after the reconnect' })");
  await page.waitForFunction("received.includes('after the reconnect')");

  expect(await page.evaluate("lifecycle")).toEqual(["open", "close 1012 service restart", "reopen"]);
  expect(await page.evaluate("received")).toEqual(["hello from the page", "after the reconnect"]);
  expect(pageErrors).toEqual([]);
});
