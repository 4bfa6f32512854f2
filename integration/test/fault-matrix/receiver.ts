import { type FaultLayer, openLayer, statsOf } from "./layers.js";
import {
  codeOf,
  END_TYPE,
  KINDS,
  type Kind,
  type PeerConfig,
  perKind,
  type ReceiveLedger,
  type ReceiverCalls,
  type Targets,
} from "./protocol.js";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The receiving process: one layer per kind, one receive loop on each kind's channel, recording
 * every number in arrival order. It makes its own process-local channels and adds the group's
 * member itself, as a consumer does, so whatever the layer restores of its own memberships counts.
 */
export class Receiver {
  private readonly layers: Record<Kind, FaultLayer>;
  private readonly ledgers = perKind(
    (): Omit<ReceiveLedger, "stats"> => ({ delivered: [], receiveErrors: {}, ended: false }),
  );
  private readonly stopping = new AbortController();
  private loops: Promise<void>[] = [];

  constructor(config: PeerConfig) {
    this.layers = { local: openLayer(config), named: openLayer(config), group: openLayer(config) };
    for (const kind of KINDS) this.ledgers[kind] = { delivered: [], receiveErrors: {}, ended: false };
  }

  readonly calls: { [M in keyof ReceiverCalls]: (params: ReceiverCalls[M][0]) => Promise<ReceiverCalls[M][1]> } = {
    open: async ({ named, group }) => {
      const member = await this.layers.group.newChannel();
      await this.layers.group.groupAdd(group, member);
      const channels: Targets = { local: await this.layers.local.newChannel(), named, group: member };
      this.loops = KINDS.map((kind) => this.receiveLoop(kind, channels[kind]));
      return { local: channels.local, named, group };
    },
    progress: async () =>
      perKind((kind) => {
        const { delivered, ended } = this.ledgers[kind];
        return { count: delivered.length, maxN: delivered.reduce((max, n) => Math.max(max, n), -1), ended };
      }),
    report: async () => perKind((kind) => ({ ...this.ledgers[kind], stats: statsOf(this.layers[kind]) })),
    close: async () => {
      this.stopping.abort();
      await Promise.all(this.loops);
      await Promise.all(KINDS.map((kind) => this.layers[kind].close()));
      return null;
    },
  };

  private async receiveLoop(kind: Kind, channel: string): Promise<void> {
    const ledger = this.ledgers[kind];
    while (!this.stopping.signal.aborted) {
      try {
        const message = await this.layers[kind].receive(channel, { signal: this.stopping.signal });
        if (message.type === END_TYPE) ledger.ended = true;
        else ledger.delivered.push(message.n as number);
      } catch (error) {
        if (this.stopping.signal.aborted) return;
        const code = codeOf(error);
        ledger.receiveErrors[code] = (ledger.receiveErrors[code] ?? 0) + 1;
        await sleep(50); // pacing while the server is away, not synchronisation
      }
    }
  }
}
