import { connect } from "node:net";

/** Polls `check` every 25 ms until it resolves true, failing after `timeoutMs`. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Opens a TCP connection, writes `send` (if any) and resolves true once the server's first bytes
 * contain (or match) `expect`: enough to know Redis (+PONG) or NATS (INFO) answers without a
 * client library. False after a second without it.
 */
export function probeTcp(port: number, expect: string | RegExp, send?: string, host = "127.0.0.1"): Promise<boolean> {
  const seenEnough = (seen: string) => (typeof expect === "string" ? seen.includes(expect) : expect.test(seen));
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    let seen = "";
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => finish(false));
    socket.once("error", () => finish(false));
    socket.once("close", () => finish(seenEnough(seen)));
    socket.once("connect", () => {
      if (send) socket.write(send);
    });
    socket.on("data", (chunk) => {
      seen += chunk.toString("latin1");
      if (seenEnough(seen)) finish(true);
    });
  });
}

/** Whether something accepts TCP connections on `port`. */
export function portAnswers(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(false));
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
  });
}
