import { type FaultLayer, openLayer, statsOf } from "./layers.js";
import {
  codeOf,
  END_TYPE,
  KINDS,
  type Kind,
  MESSAGE_TYPE,
  type PeerConfig,
  perKind,
  type SenderCalls,
  type SendLedger,
  type Targets,
} from "./protocol.js";

/** How long stop() waits for a send that has not settled, and for an end marker to be accepted. */
const SETTLE_DEADLINE_MS = 60_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The sending process: one layer per kind, each sending numbered messages one at a time (awaited,
 * so per-channel order is the order the calls resolved), at most `perSecond` a second.
 */
export class Sender {
  private readonly layers: Record<Kind, FaultLayer>;
  private readonly ledgers = perKind(
    (): Omit<SendLedger, "stats"> => ({ next: 0, resolved: [], rejected: [], unsettled: 0, endResolved: false }),
  );
  private targets: Targets | undefined;
  private sending = false;
  private loops: Promise<void>[] = [];

  constructor(config: PeerConfig) {
    this.layers = perKind(() => openLayer(config));
  }

  readonly calls: { [M in keyof SenderCalls]: (params: SenderCalls[M][0]) => Promise<SenderCalls[M][1]> } = {
    start: async ({ targets, perSecond }) => {
      this.targets = targets;
      this.sending = true;
      this.loops = KINDS.map((kind) => this.sendLoop(kind, 1000 / perSecond));
      return null;
    },
    progress: async () => perKind((kind) => this.ledgers[kind].next),
    stop: async () => {
      this.sending = false;
      await Promise.all(KINDS.map((kind, index) => this.settle(kind, this.loops[index])));
      await Promise.all(KINDS.map((kind) => this.sendEnd(kind)));
      return null;
    },
    report: async () => perKind((kind) => ({ ...this.ledgers[kind], stats: statsOf(this.layers[kind]) })),
    close: async () => {
      this.sending = false;
      await Promise.all(KINDS.map((kind) => this.layers[kind].close()));
      return null;
    },
  };

  private send(kind: Kind, message: { type: string; n?: number }): Promise<void> {
    const target = (this.targets as Targets)[kind];
    const layer = this.layers[kind];
    return kind === "group" ? layer.groupSend(target, message) : layer.send(target, message);
  }

  private async sendLoop(kind: Kind, gapMs: number): Promise<void> {
    const ledger = this.ledgers[kind];
    let lastStart = 0;
    while (this.sending) {
      // Pacing (the load), not synchronisation; no catching up after a slow call, so no bursts.
      const wait = lastStart + gapMs - Date.now();
      if (wait > 0) await sleep(wait);
      if (!this.sending) return;
      lastStart = Date.now();
      const n = ledger.next++;
      try {
        await this.send(kind, { type: MESSAGE_TYPE, n });
        ledger.resolved.push([n, Date.now()]);
      } catch (error) {
        ledger.rejected.push([n, codeOf(error), Date.now()]);
      }
    }
  }

  /** Waits for the loop's last send; one still unsettled after the deadline is counted (a hang). */
  private async settle(kind: Kind, loop: Promise<void> | undefined): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<"hung">((resolve) => {
      timer = setTimeout(() => resolve("hung"), SETTLE_DEADLINE_MS);
    });
    if ((await Promise.race([loop, hung])) === "hung") this.ledgers[kind].unsettled++;
    clearTimeout(timer);
  }

  /** The end marker, sent until one is accepted (or the deadline passes). */
  private async sendEnd(kind: Kind): Promise<void> {
    const deadline = Date.now() + SETTLE_DEADLINE_MS;
    while (Date.now() < deadline) {
      try {
        await this.send(kind, { type: END_TYPE });
        this.ledgers[kind].endResolved = true;
        return;
      } catch {
        await sleep(100); // pacing of the retries while the server is away
      }
    }
  }
}
