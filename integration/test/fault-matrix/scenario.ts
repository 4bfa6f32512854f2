import { randomBytes } from "node:crypto";
import type { TestService } from "@channel-layers/testing";
import { type CaseCounts, type Crash, countCase } from "./counts.js";
import type { FaultMode } from "./modes.js";
import { PeerProcess } from "./peer-process.js";
import {
  KINDS,
  type Kind,
  perKind,
  type ReceiveLedger,
  type ReceiverCalls,
  type SenderCalls,
  type SendLedger,
} from "./protocol.js";

/** The load and the faults: how fast each kind sends, how many crashes, how long each lasts. */
export interface FaultLoad {
  /** Sends a second per kind (each awaited, so fewer when calls are slower than that). */
  perSecond: number;
  kills: number;
  /** How long the server stays dead: the outage itself is what is tested. */
  outageMs: number;
  /** Load before each kill and after the last recovery. */
  loadMs: number;
  /** The shortest exchange, from the first send to the stop. */
  minimumExchangeMs: number;
}

export interface ModeRun {
  mode: FaultMode;
  crashes: Crash[];
  sends: Record<Kind, SendLedger>;
  receives: Record<Kind, ReceiveLedger>;
  counts: Record<Kind, CaseCounts>;
  /** From the first send to the stop. */
  exchangeMs: number;
}

/** Generous deadlines for waits on events; none of them is a measurement. */
const FLOWING_DEADLINE_MS = 60_000;
const RECOVERY_DEADLINE_MS = 45_000;
/**
 * How long to wait, after the stop, for the end markers and for late deliveries (JetStream
 * redelivers after ackWaitMs) before counting what is missing as lost.
 */
const SETTLE_DEADLINE_MS = 30_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Asks `check` every 100 ms until it holds or the deadline passes; says which. */
async function eventually(check: () => Promise<boolean>, deadlineMs: number): Promise<boolean> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
}

/**
 * One mode of the matrix: a receiver process and a sender process on `server`, numbered messages
 * on every kind at once, the server killed with SIGKILL and restarted `load.kills` times, then
 * everything each side saw. Throws only when the peers cannot be set up; every broken promise is
 * left for the caller to judge from the ledgers.
 */
export async function runFaultMode(mode: FaultMode, server: TestService, load: FaultLoad): Promise<ModeRun> {
  const config = {
    backend: mode.backend,
    url: server.url,
    prefix: `fm${randomBytes(5).toString("hex")}`,
    layerOptions: mode.layerOptions,
  };
  const receiver = new PeerProcess<ReceiverCalls>({ ...config, role: "receiver" });
  const sender = new PeerProcess<SenderCalls>({ ...config, role: "sender" });
  const crashes: Crash[] = [];
  try {
    const targets = await receiver.call("open", { named: "fault-named", group: "fault-group" });
    await sender.call("start", { targets, perSecond: load.perSecond });
    const startedAt = Date.now();
    const deliveredSince = async (from: Record<Kind, number>) => {
      const progress = await receiver.call("progress", null);
      return KINDS.filter((kind) => progress[kind].maxN >= from[kind]);
    };
    const flowing = await eventually(
      async () => (await deliveredSince({ local: 20, named: 20, group: 20 })).length === KINDS.length,
      FLOWING_DEADLINE_MS,
    );
    if (!flowing) throw new Error(`${mode.name}: messages never flowed on every kind\n${receiver.output}`);

    for (let kill = 0; kill < load.kills; kill++) {
      await sleep(load.loadMs);
      const nAtKill = await sender.call("progress", null);
      const receivedAtKill = await receiver.call("progress", null);
      await server.kill("SIGKILL");
      await sleep(load.outageMs);
      const restartBeganAt = Date.now();
      await server.restart();
      const nAtRestart = await sender.call("progress", null);
      const recoveredKinds = new Set<Kind>();
      await eventually(async () => {
        for (const kind of await deliveredSince(nAtRestart)) recoveredKinds.add(kind);
        return recoveredKinds.size === KINDS.length;
      }, RECOVERY_DEADLINE_MS);
      crashes.push({
        nAtKill,
        deliveredAtKill: perKind((kind) => receivedAtKill[kind].count),
        nAtRestart,
        restartBeganAt,
        recovered: perKind((kind) => recoveredKinds.has(kind)),
      });
    }
    await sleep(Math.max(load.loadMs, startedAt + load.minimumExchangeMs - Date.now()));
    const exchangeMs = Date.now() - startedAt;
    await sender.call("stop", null);
    const sends = await sender.call("report", null);

    // Per-channel order: once a kind's end marker is in, whatever came before it has arrived,
    // except what a backend redelivers later; durable kinds get time for that.
    const settled = async () => {
      const receives = await receiver.call("report", null);
      return KINDS.every((kind) => {
        const { loss } = mode.kinds[kind];
        const counts = countCase(loss, sends[kind], receives[kind]);
        if (loss.rule === "none") return counts.lost.length === 0;
        if (loss.rule === "counted") return counts.lost.length <= counts.countedInStats;
        return receives[kind].ended;
      });
    };
    await eventually(settled, SETTLE_DEADLINE_MS);
    // Fresh stats: the sender's loss counts come in after its last send.
    const finalSends = await sender.call("report", null);
    const receives = await receiver.call("report", null);
    const counts = perKind((kind) => countCase(mode.kinds[kind].loss, finalSends[kind], receives[kind]));
    return { mode, crashes, sends: finalSends, receives, counts, exchangeMs };
  } finally {
    await Promise.all([sender.close(), receiver.close()]);
  }
}
