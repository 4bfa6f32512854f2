// How long a server's event loop stalls for its keepalive: a runtime server holds N idle sockets
// (a child process opens them) with pingIntervalMs 1000, and the server's event-loop delay is
// sampled for 5 s (perf_hooks.monitorEventLoopDelay, 1 ms resolution).
//
//   pnpm exec tsx --conditions=source bench/micro/keepalive-stall.ts [--sockets 2000]
import { fork } from "node:child_process";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { InMemoryChannelLayer } from "@channel-layers/memory";
import { serve, WebsocketConsumer } from "@channel-layers/runtime";

/** The part of ws's client this uses (bench/ has no @types/ws; chat-clients.ts does the same). */
interface ClientSocket {
  once(event: "open", listener: () => void): void;
}
const { WebSocket } = (await import("ws" as string)) as { WebSocket: new (url: string) => ClientSocket };

const at = process.argv.indexOf("--sockets");
const SOCKETS = at === -1 ? 2000 : Number(process.argv[at + 1]);
const ms = (nanoseconds: number) => (nanoseconds / 1e6).toFixed(2);

if (process.argv[2] === "clients") {
  const port = Number(process.argv[3]);
  const sockets: ClientSocket[] = [];
  for (let i = 0; i < SOCKETS; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    await new Promise<void>((resolve) => ws.once("open", () => resolve()));
    sockets.push(ws);
  }
  process.send?.("ready");
} else {
  class Idle extends WebsocketConsumer {}
  const server = await serve(Idle.asApplication(), {
    port: 0,
    channelLayer: new InMemoryChannelLayer(),
    pingIntervalMs: 1000,
    maxConnections: SOCKETS + 100,
    shutdownSignals: [],
  });
  const here = fileURLToPath(import.meta.url);
  const clients = fork(here, ["clients", String(server.port), "--sockets", String(SOCKETS)], {
    execArgv: process.execArgv,
  });
  // The clients end with this process, whichever way it ends.
  process.on("exit", () => clients.kill());
  await new Promise((resolve) => clients.once("message", resolve));
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  await new Promise((resolve) => setTimeout(resolve, 5000));
  delay.disable();
  console.log(
    `${SOCKETS} sockets, pings every 1 s, loop delay over 5 s: p50 ${ms(delay.percentile(50))} ms, p99 ${ms(delay.percentile(99))} ms, max ${ms(delay.max)} ms`,
  );
  await server.close();
  process.exit(0);
}
