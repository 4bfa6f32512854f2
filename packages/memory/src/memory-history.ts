import type { GroupHistory, GroupHistoryRule, HistoryOffset, Message } from "@channel-layers/core";
import { copyMessage, RingQueue, stampHistory } from "@channel-layers/core/backend";

interface KeptMessage {
  readonly offset: number;
  /** As members received it: stamped with __group__ and __offset__. */
  readonly message: Message;
  readonly at: number;
}

/** One group's ring buffer, and the highest offset it has trimmed (or could not have seen). */
interface GroupLog {
  readonly kept: RingQueue<KeptMessage>;
  trimmedThrough: number;
}

/** Offsets a layer may issue per millisecond of its life before a later process's could repeat them. */
const OFFSETS_PER_MS = 1024;
/** The highest offset any layer of this process issued: a layer made later starts above it. */
let highestIssued = 0;

/**
 * The in-memory layer's group histories: a ring buffer per group. Offsets come from one counter
 * per layer, so they strictly increase per group and are never reissued, not even after a flush
 * or after a group's whole history aged out (they are not contiguous per group). The counter
 * starts at the clock, so a restarted process never hands out an offset a client kept from the
 * one before (unless that one issued over a million a second for its whole life).
 */
export class MemoryHistory {
  private counter = Math.max(Date.now() * OFFSETS_PER_MS, highestIssued);
  private readonly logs = new Map<string, GroupLog>();

  /** Groups holding history now. */
  get groupCount(): number {
    return this.logs.size;
  }

  /** Messages kept over all groups. */
  get messageCount(): number {
    let count = 0;
    for (const log of this.logs.values()) count += log.kept.length;
    return count;
  }

  /** Numbers and keeps `message` (the layer's own copy); returns it as members get it. */
  append(group: string, message: Message, rule: GroupHistoryRule, now: number): Message {
    let log = this.logs.get(group);
    if (log === undefined) {
      // Offsets up to the counter's current value cannot have been this group's since it was
      // last forgotten: a caller holding one missed something.
      log = { kept: new RingQueue(), trimmedThrough: this.counter };
      this.logs.set(group, log);
    }
    const offset = ++this.counter;
    highestIssued = Math.max(highestIssued, offset);
    const stamped = stampHistory(message, group, offset);
    log.kept.push({ offset, message: stamped, at: now });
    this.trim(group, log, rule, now);
    return stamped;
  }

  read(group: string, after: HistoryOffset, rule: GroupHistoryRule, now: number): GroupHistory {
    const log = this.logs.get(group);
    if (log !== undefined) this.trim(group, log, rule, now);
    const kept = log === undefined ? [] : [...log.kept];
    const placeable = typeof after === "number" && after <= this.counter;
    const messages = kept
      .filter((entry) => !placeable || entry.offset > after)
      .map((entry) => ({ offset: entry.offset, message: copyMessage(entry.message) }));
    // An offset from before the log was (re)made, or one this layer never issued, is a gap.
    const complete = placeable && log !== undefined && after >= log.trimmedThrough;
    return { messages, complete };
  }

  /** Drops what every group's rule no longer keeps; `ruleOf` gives a group's rule. */
  sweep(ruleOf: (group: string) => GroupHistoryRule | undefined, now: number): void {
    for (const [group, log] of this.logs) {
      const rule = ruleOf(group);
      if (rule === undefined) this.logs.delete(group);
      else this.trim(group, log, rule, now);
    }
  }

  clear(): void {
    this.logs.clear();
  }

  private trim(group: string, log: GroupLog, rule: GroupHistoryRule, now: number): void {
    while (log.kept.length > rule.maxLength) log.trimmedThrough = (log.kept.shift() as KeptMessage).offset;
    if (rule.maxAgeMs !== undefined) {
      const oldest = now - rule.maxAgeMs;
      while ((log.kept.peek()?.at ?? Number.POSITIVE_INFINITY) < oldest) {
        log.trimmedThrough = (log.kept.shift() as KeptMessage).offset;
      }
      // A log that aged out entirely is forgotten; the next append starts one above the counter.
      if (log.kept.length === 0) this.logs.delete(group);
    }
  }
}
