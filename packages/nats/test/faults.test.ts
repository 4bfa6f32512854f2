import type { ChannelLayer } from "@channel-layers/core";
import { afterAll, describe, expect, it, vi } from "vitest";
import { NatsTestServer, randomPrefix } from "./nats-server.js";

// A server of our own, killed with SIGKILL and restarted (same port, same JetStream directory).
const server = await NatsTestServer.start({ throwaway: true });
afterAll(() => server?.stop());

type Kind = "durable" | "local" | "group";
const KINDS: Kind[] = ["durable", "local", "group"];

/** What one kind of channel saw: sends that resolved or rejected, and what arrived. */
class Ledger {
  readonly resolved = new Set<number>();
  rejected = 0;
  readonly arrived: number[] = [];

  get lost(): number[] {
    const arrived = new Set(this.arrived);
    return [...this.resolved].filter((n) => !arrived.has(n));
  }

  get duplicates(): number {
    return this.arrived.length - new Set(this.arrived).size;
  }
}

describe.runIf(server)("kill -9 and restart under load", () => {
  const live = server as NatsTestServer;

  it("reconnects; durable channels lose nothing; process-local loss stays within what the layer counted", {
    timeout: 60_000,
  }, async () => {
    const prefix = randomPrefix("faults");
    const options = { prefix, requestTimeoutMs: 1000, ackWaitMs: 2000, capacity: 100_000 };
    const [sender, receiver] = [live.layer(options), live.layer(options)];
    const ledgers: Record<Kind, Ledger> = { durable: new Ledger(), local: new Ledger(), group: new Ledger() };
    const local = await receiver.newChannel();
    const member = await receiver.newChannel();
    await sender.groupAdd("load", member);
    const targets: Record<Kind, { send(n: number): Promise<void>; channel: string }> = {
      durable: { send: (n) => sender.send("fault-jobs", { type: "n", n }), channel: "fault-jobs" },
      local: { send: (n) => sender.send(local, { type: "n", n }), channel: local },
      group: { send: (n) => sender.groupSend("load", { type: "n", n }), channel: member },
    };
    let sending = true;
    let receiving = true;
    const send = async (kind: Kind) => {
      for (let n = 0; sending; n++) {
        // Sends that resolve ahead of their acknowledgement never wait for I/O: let the others run.
        if (n % 16 === 0) await new Promise(setImmediate);
        try {
          await targets[kind].send(n);
          ledgers[kind].resolved.add(n);
        } catch (error) {
          // The only way a send may fail here: no answer while the server is down.
          expect(error).toMatchObject({ code: "BACKEND_UNAVAILABLE" });
          ledgers[kind].rejected++;
        }
      }
    };
    const receive = async (kind: Kind, layer: ChannelLayer) => {
      while (receiving) {
        try {
          const message = await layer.receive(targets[kind].channel, { signal: AbortSignal.timeout(200) });
          ledgers[kind].arrived.push(message.n as number);
        } catch (error) {
          if ((error as Error).name !== "AbortError") expect(error).toMatchObject({ code: "BACKEND_UNAVAILABLE" });
        }
      }
    };
    const senders = KINDS.map(send);
    const receivers = KINDS.map((kind) => receive(kind, receiver));
    const flowing = (after: Record<Kind, number>) => {
      for (const kind of KINDS) expect(Math.max(-1, ...ledgers[kind].arrived)).toBeGreaterThan(after[kind]);
    };

    await vi.waitFor(() => flowing({ durable: 50, local: 50, group: 50 }), { timeout: 20_000 });
    await live.service.kill();
    // The outage itself: time passing is what is being tested.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await live.service.restart();
    await vi.waitFor(() => expect(Math.min(sender.stats().reconnects, receiver.stats().reconnects)).toBe(1), {
      timeout: 10_000,
    });
    const atRestart = {
      durable: Math.max(...ledgers.durable.resolved),
      local: Math.max(...ledgers.local.resolved),
      group: Math.max(...ledgers.group.resolved),
    };
    await vi.waitFor(() => flowing(atRestart), { timeout: 20_000 });
    sending = false;
    await Promise.all(senders);
    // Durable messages in flight at the crash come back after ackWaitMs.
    await vi.waitFor(() => expect(ledgers.durable.lost).toEqual([]), { timeout: 20_000, interval: 200 });
    await vi.waitFor(() => expect(ledgers.local.lost.length).toBeLessThanOrEqual(countedLocalLoss()), {
      timeout: 5000,
    });
    receiving = false;
    await Promise.all(receivers);

    function countedLocalLoss(): number {
      const { lostSends, unconfirmedSends, undeliverable } = sender.stats();
      return lostSends + unconfirmedSends + undeliverable;
    }
    const summary = Object.fromEntries(
      KINDS.map((kind) => [
        kind,
        {
          resolved: ledgers[kind].resolved.size,
          rejected: ledgers[kind].rejected,
          lost: ledgers[kind].lost.length,
          duplicates: ledgers[kind].duplicates,
        },
      ]),
    );
    const counted = { sender: sender.stats(), receiver: receiver.stats() };
    console.info(`NATS kill -9 under load: ${JSON.stringify({ ...summary, counted })}`);
    expect(ledgers.durable.lost).toEqual([]);
    expect(ledgers.local.lost.length).toBeLessThanOrEqual(countedLocalLoss());
    // lostSends counts only sends that resolved: one rejected during the outage is never "lost".
    expect(sender.stats().lostSends).toBeLessThanOrEqual(ledgers.local.lost.length);
    // Process-local channels keep send order, crash or not.
    expect(ledgers.local.arrived).toEqual([...ledgers.local.arrived].sort((a, b) => a - b));
    await Promise.all([sender.close(), receiver.close()]);
  });
});
