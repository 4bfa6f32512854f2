/** What JetStream says of a delivered message in the subject its acknowledgement goes to. */
export interface DeliveryInfo {
  /** How many times it has been delivered, this time included. */
  delivered: number;
  /** Its sequence in the stream. */
  streamSequence: number;
  /** When the stream stored it, ms epoch. */
  storedAt: number;
  /** Messages the consumer has yet to deliver after this one. */
  pending: number;
}

/**
 * Reads `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ns>.<pending>`, or
 * the newer form with a domain and an account hash after `ACK` (and a token at the end).
 */
export function parseAckSubject(reply: string): DeliveryInfo {
  const tokens = reply.split(".");
  const at = tokens.length >= 12 ? 6 : 4;
  return {
    delivered: Number(tokens[at]),
    streamSequence: Number(tokens[at + 1]),
    storedAt: Number(tokens[at + 3]) / 1e6,
    pending: Number(tokens[at + 4]),
  };
}

/**
 * The messages a channel handed out lately (stream sequence and store time, the oldest forgotten
 * first), so a redelivery after a crash lost its acknowledgement is dropped, not received twice.
 */
export class RecentDeliveries {
  private readonly storedAt = new Map<number, number>();

  constructor(private readonly limit = 10_000) {}

  has(info: DeliveryInfo): boolean {
    return this.storedAt.get(info.streamSequence) === info.storedAt;
  }

  add(info: DeliveryInfo): void {
    this.storedAt.set(info.streamSequence, info.storedAt);
    if (this.storedAt.size > this.limit) {
      // A Map iterates in insertion order: the first key is the oldest.
      for (const oldest of this.storedAt.keys()) {
        this.storedAt.delete(oldest);
        break;
      }
    }
  }
}
