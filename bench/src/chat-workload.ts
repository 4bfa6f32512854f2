import type { ChatClient } from "./chat-clients.js";
import { percentile } from "./harness.js";

/**
 * The two workloads of the chat-room benchmark (issue 14): "rounds" sends one message and waits
 * until every client has it; "burst" sends BURST messages at once and waits for all of them.
 * Client 0 sends everything; every client, the sender included, receives every message.
 */
export type Workload = "rounds" | "burst";
export const BURST = 100;

export interface RoomFigures {
  deliveries: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
}

/** A room that stops receiving for this long has lost a message: the case fails instead of hanging. */
const STALL_MS = 60_000;

/**
 * Sends `messages` messages (a multiple of BURST for "burst") and resolves once each of them
 * reached every client; a delivery's latency runs from the send to that client's receipt (one
 * clock: the clients share this process). Rejects if a client is lost, a message is delivered
 * twice or not at all.
 */
export function driveRoom(clients: readonly ChatClient[], workload: Workload, messages: number): Promise<RoomFigures> {
  const size = clients.length;
  const batch = workload === "rounds" ? 1 : BURST;
  const total = messages * size;
  const latencies = new Float64Array(total);
  const perMessage = new Int32Array(messages);
  const sender = clients[0] as ChatClient;
  let received = 0;
  let sent = 0;
  let started = 0;
  return new Promise<RoomFigures>((resolve, reject) => {
    let lastProgress = performance.now();
    let seen = 0;
    const watchdog = setInterval(() => {
      if (received !== seen) {
        seen = received;
        lastProgress = performance.now();
      } else if (performance.now() - lastProgress > STALL_MS) {
        fail(new Error(`${workload}: only ${received} of ${total} deliveries arrived (stalled ${STALL_MS / 1000} s)`));
      }
    }, 1000);
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      reject(error);
    };
    const sendBatch = () => {
      for (let i = 0; i < batch && sent < messages; i++) sender.send(`${sent++}:${performance.now()}`);
    };
    const finish = () => {
      settled = true;
      clearInterval(watchdog);
      const seconds = (performance.now() - started) / 1000;
      const wrong = perMessage.findIndex((count) => count !== size);
      if (wrong !== -1) {
        reject(new Error(`message ${wrong} reached ${perMessage[wrong]} of ${size} clients`));
        return;
      }
      const sorted = latencies.sort();
      resolve({ deliveries: received, seconds, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) });
    };
    const lost = (reason: string) => fail(new Error(`a client was lost: ${reason}`));
    for (const client of clients) {
      client.listen((text) => {
        if (settled) return;
        const colon = text.indexOf(":");
        const sequence = Number(text.slice(0, colon));
        latencies[received++] = performance.now() - Number(text.slice(colon + 1));
        perMessage[sequence] = (perMessage[sequence] ?? 0) + 1;
        if (received === total) finish();
        else if (received === sent * size) sendBatch();
      }, lost);
    }
    started = performance.now();
    sendBatch();
  });
}
