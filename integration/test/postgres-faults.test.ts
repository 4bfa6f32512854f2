import type { Message } from "@channel-layers/core";
import { receiveOrNothing } from "@channel-layers/core/conformance";
import { PostgresChannelLayer } from "@channel-layers/postgres";
import { startService, type TestService, waitFor } from "@channel-layers/testing";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";

/**
 * PostgresChannelLayer against a throwaway PostgreSQL (initdb in a temp dir, free port) that is
 * killed with SIGKILL (the postmaster, as a crash; its backends exit when they see it gone) and
 * restarted while one instance sends and another receives, on a process-local channel and on a
 * named one. Every message is accounted for: sent (acknowledged or not), delivered, lost,
 * duplicated.
 *
 * The guarantee under test (README, "Guarantees"): a send that resolved is committed, so it
 * survives the crash and is delivered after the restart; nothing is delivered twice; per-channel
 * order holds. The one loss allowed is a receive's claim that committed in the instant before the
 * crash and whose reply never arrived: at most one message per waiting receive per crash.
 */
const service: TestService | undefined = await startService("postgres", { throwaway: true });
afterAll(() => service?.stop());

const KILLS = 3;
const CHANNELS = 2;

type Outcome = { acked: Set<number>; failed: Set<number>; delivered: number[] };

/** Server process ids of a layer instance's LISTEN connection (named after its NOTIFY channel). */
async function listenerBackends(url: string, notifyChannel: string): Promise<number[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = $1", [
      `channel-layers ${notifyChannel}`,
    ]);
    return result.rows.map((row) => row.pid);
  } finally {
    await client.end();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function until(condition: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe.runIf(service)("PostgreSQL faults on a throwaway server", () => {
  it("loses no acknowledged message beyond claims in flight, duplicates none, keeps order", {
    timeout: 90_000,
  }, async () => {
    const db = service as TestService;
    const options = {
      connectionString: db.url,
      prefix: "faults",
      capacity: 1_000_000,
      poolSize: 4,
      retryDelayMs: 50,
      maxRetryDelayMs: 400,
    };
    const sender = new PostgresChannelLayer(options);
    const receiver = new PostgresChannelLayer(options);
    await Promise.all([sender.ready(), receiver.ready()]);
    const channels = [await receiver.newChannel(), "fault-work"];
    const outcomes = new Map<string, Outcome>(
      channels.map((channel) => [channel, { acked: new Set(), failed: new Set(), delivered: [] }]),
    );
    const outcome = (channel: string) => outcomes.get(channel) as Outcome;

    const receiving = channels.map(async (channel) => {
      for (;;) {
        const message = (await receiver.receive(channel)) as Message & { n: number };
        if (message.type === "end") return;
        outcome(channel).delivered.push(message.n);
      }
    });

    let sending = true;
    let failures = 0;
    const sendingLoops = channels.map(async (channel) => {
      for (let n = 0; sending; n++) {
        try {
          await sender.send(channel, { type: "load", n });
          outcome(channel).acked.add(n);
        } catch (error) {
          expect(error).toMatchObject({ code: "BACKEND_UNAVAILABLE" });
          outcome(channel).failed.add(n);
          failures++;
          await sleep(20); // pacing while the server is down, not synchronisation
        }
      }
    });
    const ackedTotal = () => [...outcomes.values()].reduce((sum, each) => sum + each.acked.size, 0);
    const deliveredTotal = () => [...outcomes.values()].reduce((sum, each) => sum + each.delivered.length, 0);

    const recoveries: number[] = [];
    for (let kill = 0; kill < KILLS; kill++) {
      const ackedBefore = ackedTotal();
      await until(() => ackedTotal() >= ackedBefore + 1000 && deliveredTotal() > 0, "load before the kill");
      const failuresBefore = failures;
      await db.kill();
      await until(() => failures > failuresBefore, "a send to fail while the server is down");
      const restartedAt = Date.now();
      await db.restart();
      const deliveredAtRestart = deliveredTotal();
      await until(() => deliveredTotal() > deliveredAtRestart + 100, "delivery to resume after the restart");
      recoveries.push(Date.now() - restartedAt);
    }
    sending = false;
    await Promise.all(sendingLoops);
    // Per-channel order: once "end" arrives, everything sent before it that survived has arrived.
    for (const channel of channels) await sender.send(channel, { type: "end" });
    await Promise.all(receiving);
    await Promise.all([sender.close(), receiver.close()]);

    const report: Record<string, number>[] = [];
    for (const [channel, { acked, failed, delivered }] of outcomes) {
      const unique = new Set(delivered);
      const lost = [...acked].filter((n) => !unique.has(n));
      const deliveredThoughFailed = [...failed].filter((n) => unique.has(n)).length;
      report.push({
        sent: acked.size + failed.size,
        acknowledged: acked.size,
        failed: failed.size,
        delivered: delivered.length,
        duplicated: delivered.length - unique.size,
        lost: lost.length,
        deliveredThoughSendFailed: deliveredThoughFailed,
      });
      expect(delivered.length - unique.size, `${channel}: duplicates`).toBe(0);
      expect(
        delivered.every((n, i) => i === 0 || n > (delivered[i - 1] as number)),
        `${channel}: order`,
      ).toBe(true);
      expect(
        delivered.every((n) => acked.has(n) || failed.has(n)),
        `${channel}: only what was sent`,
      ).toBe(true);
      expect(lost.length, `${channel}: lost ${lost.join(",")}`).toBeLessThanOrEqual(KILLS);
    }
    console.log(`postgres faults (${KILLS} kills, ${CHANNELS} channels):`, report, `recovery ms: ${recoveries}`);
  });

  it("notices a LISTEN connection that hangs without a word (SIGSTOP, as a partition) and catches up", {
    timeout: 30_000,
  }, async () => {
    const db = service as TestService;
    const options = { connectionString: db.url, prefix: "hang", timeoutMs: 1000, retryDelayMs: 50 };
    const sender = new PostgresChannelLayer(options);
    const receiver = new PostgresChannelLayer(options);
    await Promise.all([sender.ready(), receiver.ready()]);
    const channel = await receiver.newChannel();
    const [pid] = await listenerBackends(db.url, receiver.ownNotifyChannel);
    if (pid === undefined) throw new Error("no LISTEN connection found");
    // Only through the server we started, which checks the pid is still one of its backends.
    db.signalProcess(pid, "SIGSTOP");
    try {
      // One empty look first, so the receive below has already looked at the table when the
      // message is sent, and can only learn of it through the (stopped) listener.
      expect(await receiveOrNothing(receiver, channel, 50)).toBeUndefined();
      const waiting = receiver.receive(channel, { signal: AbortSignal.timeout(15_000) });
      await sender.send(channel, { type: "while.hung" });
      // The stopped backend cannot pass the NOTIFY on; the heartbeat times out after 1 s, the
      // listener reconnects and the receiver looks at the table.
      expect(await waiting).toEqual({ type: "while.hung" });
      // Whichever way the message came, the hung connection is replaced by a new listener.
      await waitFor("a new LISTEN connection", async () => {
        const now = await listenerBackends(db.url, receiver.ownNotifyChannel);
        return now.filter((other) => other !== pid).length === 1;
      });
    } finally {
      // The backend may be gone already (a crash restart of the server ends even stopped
      // backends): then there is nothing to resume, and the error above, if any, is the one to see.
      for (const signal of ["SIGCONT", "SIGTERM"] as const) {
        // SIGTERM is what pg_terminate_backend sends; SIGKILL would restart the server.
        try {
          db.signalProcess(pid, signal);
        } catch (error) {
          console.warn(`backend ${pid} was gone before ${signal}:`, (error as Error).message);
        }
      }
      await Promise.all([sender.close(), receiver.close()]);
    }
  });
});
