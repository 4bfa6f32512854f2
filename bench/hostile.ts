import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { startService, waitFor } from "@channel-layers/testing";

// pnpm bench:hostile [--clients 8] [--seconds 20] [--layer redis] [--reconnect]
// The example chat server (examples/chat, as `pnpm start` runs it) on a throwaway Redis, attacked by
// clients that send 1 MiB chat messages as fast as the server takes them and never read a reply;
// with --reconnect a client the server drops comes straight back. Prints the server's RSS before,
// at its peak and after, and the close codes the clients saw.

/** The few calls of ws's client used here (bench has ws but not its type package). */
interface ClientSocket {
  readonly bufferedAmount: number;
  send(data: string, callback: (error?: Error) => void): void;
  pause(): void;
  terminate(): void;
  on(event: "close", listener: (code: number) => void): void;
  on(event: "error", listener: (error: Error) => void): void;
  once(event: "open", listener: () => void): void;
}
type ClientSocketClass = new (url: string, options: { origin: string; perMessageDeflate: boolean }) => ClientSocket;
const { WebSocket } = (await import("ws" as string)) as { WebSocket: ClientSocketClass };

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const index = args.indexOf(`--${name}`);
  return index === -1 ? fallback : (args[index + 1] ?? fallback);
};
const CLIENTS = Number(option("clients", "8"));
const SECONDS = Number(option("seconds", "20"));
const LAYER = option("layer", "redis");
const RECONNECT = args.includes("--reconnect");
// For comparison: the same load from clients that do read what the room sends them.
const READING = args.includes("--reading");
const CHAT = fileURLToPath(new URL("../examples/chat/", import.meta.url));
// Just under the server's 1 MiB frame limit once wrapped in {"message": ...}.
const MESSAGE = JSON.stringify({ message: "x".repeat(1024 * 1024 - 64) });
const MiB = 1024 * 1024;

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

async function startExample(layerUrl: string): Promise<{ child: ChildProcess; base: string }> {
  const prefix = `hostile${process.pid}`;
  const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", "src/server.ts"], {
    cwd: CHAT,
    env: {
      ...process.env,
      PORT: "0",
      HOST: "127.0.0.1",
      CHANNEL_LAYER_URL: LAYER === "memory" ? "memory://" : `${layerUrl}?prefix=${prefix}`,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  let base = "";
  await waitFor("the chat example to listen", async () => {
    if (child.exitCode !== null) throw new Error(`examples/chat exited:\n${output}`);
    base = /Chat example on (http:\/\/\S+)\/chat\//.exec(output)?.[1] ?? "";
    return base !== "";
  });
  return { child, base };
}

/** Resolves once the socket is open, or undefined if the server refused it. */
function open(url: string, origin: string): Promise<ClientSocket | undefined> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { origin, perMessageDeflate: false });
    ws.on("error", () => resolve(undefined));
    ws.once("open", () => resolve(ws));
  });
}

/** One hostile client: never reads, keeps 2 MiB in its own send buffer; with --reconnect, comes back when dropped. */
async function attacker(url: string, origin: string, until: number, closes: Map<number, number>): Promise<number> {
  let sent = 0;
  for (let lives = 0; Date.now() < until && (RECONNECT || lives === 0); lives++) {
    const ws = await open(url, origin);
    if (ws === undefined) continue;
    if (!READING) ws.pause();
    let closed = false;
    ws.on("close", (code) => {
      closed = true;
      closes.set(code, (closes.get(code) ?? 0) + 1);
    });
    while (!closed && Date.now() < until) {
      if (ws.bufferedAmount < 2 * MiB) {
        ws.send(MESSAGE, () => undefined);
        sent++;
        await new Promise((resolve) => setImmediate(resolve));
      } else {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
    if (!closed) ws.terminate();
  }
  // Without --reconnect a dropped client is done; the attack still lasts the full time for RSS.
  while (Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 100));
  return sent;
}

const service = LAYER === "redis" ? await startService("redis", { throwaway: true }) : undefined;
if (LAYER === "redis" && service === undefined) throw new Error("No redis-server to start for the bench");
const { child, base } = await startExample(service?.url ?? "");
const pid = child.pid as number;
try {
  const url = `${base.replace("http", "ws")}/ws/chat/hostile/`;
  // Warm up: one well-behaved round so the baseline includes a used server, not a cold one.
  const warm = await Promise.all(Array.from({ length: CLIENTS }, () => open(url, base)));
  for (const ws of warm) ws?.terminate();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const before = rssOf(pid);
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssOf(pid));
  }, 50);
  const closes = new Map<number, number>();
  const until = Date.now() + SECONDS * 1000;
  const sent = await Promise.all(Array.from({ length: CLIENTS }, () => attacker(url, base, until, closes)));
  await new Promise((resolve) => setTimeout(resolve, 2000));
  clearInterval(sampler);
  const after = rssOf(pid);
  const mb = (bytes: number) => `${(bytes / MiB).toFixed(0)} MB`;
  console.log(
    `layer ${LAYER}, ${CLIENTS} clients sending 1 MiB messages for ${SECONDS} s ${READING ? "and reading" : "without reading"}${RECONNECT ? ", reconnecting when dropped" : ""}`,
  );
  console.log(`messages sent by the clients: ${sent.reduce((a, b) => a + b, 0)}`);
  console.log(`close codes seen: ${JSON.stringify(Object.fromEntries(closes))}`);
  console.log(`server RSS: before ${mb(before)}, peak ${mb(peak)}, 2 s after ${mb(after)}`);
  console.log(`peak growth: ${mb(peak - before)}`);
} finally {
  child.kill("SIGTERM");
  await new Promise((resolve) => child.once("exit", resolve));
  await service?.stop();
}
process.exit(0);
