/**
 * How long a history message the stream republished early waits for the one before it. The
 * server (2.9) republishes after it lets go of the stream's lock, so two senders' messages to one
 * group can reach a subscriber in the other order, microseconds apart; a wait this long covers a
 * busy machine, and only a message that came early waits.
 */
export const REORDER_WAIT_MS = 50;

const RESOLVED = Promise.resolve();

interface Early {
  seq: number;
  deliver: () => void;
  delivered: (() => void)[];
}

/** One group's history subject: the last sequence handed on, and what came before its turn. */
interface Chain {
  subject: string;
  last: number;
  /** Early arrivals, by the sequence of the message each follows (its Nats-Last-Sequence). */
  early: Map<number, Early>;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Puts a history group's republished messages back in stream order before its members get them.
 * Each republish names the previous sequence on its subject (the header Nats-Last-Sequence): a
 * message whose previous one has not been handed on yet waits for it, REORDER_WAIT_MS at most,
 * after which what waited goes on in sequence order (the previous one was lost, or predates the
 * subscription). The first message after subscribing starts the chain.
 */
export class RepublishOrder {
  private readonly chains = new Map<string, Chain>();

  /** A republished message of `group` with its stream headers; `deliver` hands it to the members. */
  arrived(group: string, subject: string, seq: number, previous: number, deliver: () => void): void {
    let chain = this.chains.get(group);
    if (chain === undefined || chain.subject !== subject) {
      // A new chain (first message, or the group's rule changed stream): nothing to wait for.
      if (chain !== undefined) this.release(chain);
      chain = { subject, last: seq, early: new Map(), timer: undefined };
      this.chains.set(group, chain);
      deliver();
      return;
    }
    if (seq <= chain.last || previous <= chain.last) {
      // In its turn, or a straggler whose successors already went on (after a wait ran out).
      chain.last = Math.max(chain.last, seq);
      deliver();
      this.drain(chain);
      return;
    }
    chain.early.set(previous, { seq, deliver, delivered: [] });
    if (chain.timer === undefined) {
      chain.timer = setTimeout(() => this.release(chain as Chain), REORDER_WAIT_MS);
      chain.timer.unref();
    }
  }

  /** Resolves once message `seq` of `group` went to the members: at once unless it is waiting its turn. */
  handedOn(group: string, seq: number): Promise<void> {
    const chain = this.chains.get(group);
    if (chain === undefined) return RESOLVED;
    for (const early of chain.early.values()) {
      if (early.seq === seq) return new Promise((resolve) => early.delivered.push(resolve));
    }
    return RESOLVED;
  }

  /** The group has no members here any more: what waits is dropped with the chain. */
  forget(group: string): void {
    const chain = this.chains.get(group);
    if (chain === undefined) return;
    clearTimeout(chain.timer);
    for (const early of chain.early.values()) for (const resolve of early.delivered) resolve();
    this.chains.delete(group);
  }

  clear(): void {
    for (const group of [...this.chains.keys()]) this.forget(group);
  }

  /** Hands on whatever follows the last message handed on. */
  private drain(chain: Chain): void {
    for (let next = chain.early.get(chain.last); next !== undefined; next = chain.early.get(chain.last)) {
      chain.early.delete(chain.last);
      chain.last = next.seq;
      handOn(next);
    }
    if (chain.early.size === 0) {
      clearTimeout(chain.timer);
      chain.timer = undefined;
    }
  }

  /** The wait ran out: everything that waited goes on in sequence order. */
  private release(chain: Chain): void {
    clearTimeout(chain.timer);
    chain.timer = undefined;
    const waiting = [...chain.early.values()].sort((a, b) => a.seq - b.seq);
    chain.early.clear();
    for (const early of waiting) {
      chain.last = Math.max(chain.last, early.seq);
      handOn(early);
    }
  }
}

function handOn(early: Early): void {
  early.deliver();
  for (const resolve of early.delivered) resolve();
}
