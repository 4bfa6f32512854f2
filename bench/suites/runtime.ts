import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { freePort, portAnswers, waitFor } from "@channel-layers/testing";
import { type BenchCase, type BenchSuite, type Measurement, OURS, percentile } from "../src/harness.js";
import { PYTHON, pythonUnavailable } from "../src/python.js";

/**
 * End to end: N WebSocket clients in one chat room, each message fanned out to all of them.
 * The server is the seed chat app in its own process, on the in-memory layer: ours is
 * examples/chat (`pnpm start`), the peer the same tutorial app on Django Channels under Daphne
 * (examples/chat/django). The clients run here, in the bench process, the same for both; a
 * message's latency is from its send to each client's receipt of it.
 */
/** The few calls of ws's client used here (bench has ws but not its type package). */
interface ClientSocket {
  send(data: string): void;
  close(): void;
  on(event: "message", listener: (data: Buffer) => void): void;
  on(event: "close", listener: (code: number) => void): void;
  once(event: "open", listener: () => void): void;
  once(event: "error", listener: (error: Error) => void): void;
}
type ClientSocketClass = new (url: string, options: { origin: string; perMessageDeflate: boolean }) => ClientSocket;
const { WebSocket } = (await import("ws" as string)) as { WebSocket: ClientSocketClass };

const CHAT = fileURLToPath(new URL("../../examples/chat/", import.meta.url));
const DJANGO = fileURLToPath(new URL("../../examples/chat/django/", import.meta.url));

interface Server {
  base: string;
  child: ChildProcess;
}

const servers = new Map<string, Promise<Server>>();

function collectOutput(child: ChildProcess): () => string {
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return () => output;
}

async function startOurs(): Promise<Server> {
  const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", "src/server.ts"], {
    cwd: CHAT,
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", CHANNEL_LAYER_URL: "memory://" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output = collectOutput(child);
  let base = "";
  await waitFor("the chat example to listen", async () => {
    if (child.exitCode !== null) throw new Error(`examples/chat exited:\n${output()}`);
    base = /Chat example on (http:\/\/\S+)\/chat\//.exec(output())?.[1] ?? "";
    return base !== "";
  });
  return { base, child };
}

async function startDaphne(): Promise<Server> {
  const reason = await pythonUnavailable("daphne");
  if (reason) throw new Error(reason);
  const port = await freePort();
  const child = spawn(
    PYTHON,
    ["-m", "daphne", "-v", "0", "-b", "127.0.0.1", "-p", String(port), "mysite.asgi:application"],
    {
      cwd: DJANGO,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const output = collectOutput(child);
  await waitFor("daphne to listen", async () => {
    if (child.exitCode !== null) throw new Error(`daphne exited:\n${output()}`);
    return portAnswers(port);
  });
  return { base: `http://127.0.0.1:${port}`, child };
}

function server(subject: string): Promise<Server> {
  let started = servers.get(subject);
  if (started === undefined) {
    started = subject === OURS ? startOurs() : startDaphne();
    servers.set(subject, started);
  }
  return started;
}

function openSocket(url: string, origin: string): Promise<ClientSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { origin, perMessageDeflate: false });
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

/**
 * `messages` messages, sent round-robin by the clients with at most `inFlight` not yet received
 * by everyone; returns deliveries (messages x clients) and the latency percentiles.
 */
async function chatRoom(base: string, clients: number, messages: number, inFlight: number): Promise<Measurement> {
  const url = `${base.replace("http", "ws")}/ws/chat/bench/`;
  // A consumer joins the room before accepting: once open, a socket gets every later message.
  const sockets: ClientSocket[] = [];
  for (let i = 0; i < clients; i += 50) {
    const batch = Math.min(50, clients - i);
    sockets.push(...(await Promise.all(Array.from({ length: batch }, () => openSocket(url, base)))));
  }
  const latencies = new Float64Array(messages * clients);
  const waiting = new Map<number, number>();
  let received = 0;
  let sent = 0;
  let completed = 0;
  const sendNext = () => {
    const sequence = sent++;
    waiting.set(sequence, clients);
    (sockets[sequence % clients] as ClientSocket).send(JSON.stringify({ message: `${sequence}:${performance.now()}` }));
  };
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`only ${completed} of ${messages} messages arrived in time`)),
      300_000,
    );
    for (const socket of sockets) {
      socket.on("message", (data: Buffer) => {
        // {"message": "<sequence>:<sent at>"}: the string between the last two quotes, without a
        // JSON.parse per frame, so the clients cost as little as they can.
        const frame = data.toString("latin1");
        const end = frame.lastIndexOf('"');
        const text = frame.slice(frame.lastIndexOf('"', end - 1) + 1, end);
        const colon = text.indexOf(":");
        latencies[received++] = performance.now() - Number(text.slice(colon + 1));
        const sequence = Number(text.slice(0, colon));
        const left = (waiting.get(sequence) ?? 0) - 1;
        if (left > 0) {
          waiting.set(sequence, left);
          return;
        }
        waiting.delete(sequence);
        if (++completed === messages) {
          clearTimeout(timer);
          resolve();
        } else if (sent < messages) sendNext();
      });
      socket.on("close", (code) => {
        if (completed < messages) reject(new Error(`a client was closed with ${code}`));
      });
    }
    for (let i = 0; i < Math.min(inFlight, messages); i++) sendNext();
  });
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(
    sockets.map((socket) => {
      const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
      socket.close();
      return closed;
    }),
  );
  const sorted = Array.from(latencies.subarray(0, received)).sort((a, b) => a - b);
  return {
    operations: received,
    seconds,
    extra: { clients, in_flight: inFlight, p50_ms: percentile(sorted, 50), p99_ms: percentile(sorted, 99) },
  };
}

/** One small unmeasured round on the same server first (JIT, socket setup paths), then the measured one. */
async function warmRoom(subject: string, clients: number, messages: number, inFlight: number): Promise<Measurement> {
  const { base } = await server(subject);
  await chatRoom(base, clients, Math.max(10, Math.round(messages / 10)), inFlight);
  return chatRoom(base, clients, messages, inFlight);
}

const suite: BenchSuite = {
  name: "runtime",
  cases({ quick }) {
    const scale = quick ? 0.1 : 1;
    const sizes = {
      latency: Math.round(500 * scale),
      loaded: Math.round(2000 * scale),
      big: Math.round(300 * scale),
    };
    const cases: BenchCase[] = [];
    for (const subject of [OURS, "django-channels"]) {
      cases.push(
        {
          scenario: "room-100, 1 in flight",
          subject,
          run: () => warmRoom(subject, 100, sizes.latency, 1),
        },
        {
          scenario: "room-100, 16 in flight",
          subject,
          run: () => warmRoom(subject, 100, sizes.loaded, 16),
        },
      );
    }
    // Channels' in-memory layer walks every membership on each receive: a 1,000-client room is ours alone.
    cases.push({ scenario: "room-1000, 16 in flight", subject: OURS, run: () => warmRoom(OURS, 1000, sizes.big, 16) });
    return cases.sort((a, b) => a.scenario.localeCompare(b.scenario));
  },
  async teardown() {
    for (const started of servers.values()) {
      const { child } = await started.catch(() => ({ child: undefined }));
      // A child killed by a signal has exitCode null too: its pid may already be someone else's.
      if (!child || child.exitCode !== null || child.signalCode !== null) continue;
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await exited;
    }
    servers.clear();
  },
};

export default suite;
