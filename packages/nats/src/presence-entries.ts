import type { Message } from "@channel-layers/core";
import type { PresenceEntry } from "@channel-layers/core/backend";
import { ApiCode, duplicateWindowFor, NoStream, nanos, StreamPublishError, unavailable } from "./jetstream.js";
import { StreamsOnce } from "./streams-once.js";
import { readSubject } from "./subject-reader.js";
import type { NatsTransport } from "./transport.js";

/**
 * Entries nobody swept (every instance of the prefix gone) are dropped by the stream after this
 * long. Far above any timeout, as the server drops them without a leave: sweeps do the removing.
 */
const ABANDONED_AFTER_MS = 24 * 3600_000;
/** Refreshes in flight at once, so a large instance does not queue more than the server answers in time. */
const REFRESH_BATCH = 512;
/** A sweep's deletes in flight at once. */
const DELETES_IN_FLIGHT = 256;
/** The message type of an encoded entry (only this layer reads it). */
const ENTRY_TYPE = "presence.entry";

/** A stored entry read back: the entry (undefined when its bytes are not one) and how long it lives. */
interface ReadEntry {
  entry: PresenceEntry | undefined;
  ttlMs: number | undefined;
}

/**
 * Presence entries in one JetStream stream per prefix, one subject per track
 * (`<prefix>.p.e.<group>.<ref>`) holding one message (`max_msgs_per_subject: 1`). A refresh
 * rewrites it with Nats-Expected-Last-Subject-Sequence, so it never re-creates an entry a sweep
 * removed. A write moves the entry to the end of the stream, so the stream's oldest entries are
 * the ones closest to lapsing: a sweep reads from the front and stops at the first live one, and
 * removes each lapsed entry by its sequence, which the server does once, whoever asks.
 */
export class PresenceEntries {
  private readonly stream = new StreamsOnce();
  /** ref -> the sequence of this instance's last write of its entry, which the next refresh expects. */
  private readonly own = new Map<string, number>();
  /** ref -> sequence of what the last refresh wrote, until the next sweep: a paused refresh writes nothing. */
  private refreshedSinceSweep: Map<string, number> | undefined;

  /**
   * `fallbackTtlMs`: the life of an entry whose bytes say none (presenceTimeoutMs); `sweepBudgetMs`:
   * how long one sweep may run (presenceHeartbeatMs), the rest waiting for the next heartbeat.
   */
  constructor(
    private readonly transport: NatsTransport,
    private readonly fallbackTtlMs: number,
    private readonly sweepBudgetMs: number,
  ) {}

  /** This instance's entries in the stream, as far as it knows. */
  get ownCount(): number {
    return this.own.size;
  }

  /**
   * Writes `entry`, then purges `replaced`; false when the purge found nothing (a sweep's delete
   * had it, and sent its leave: the server removes a message once, whoever asks).
   */
  async track(entry: PresenceEntry, replaced: PresenceEntry | undefined, ttlMs: number): Promise<boolean> {
    const seq = await this.write(entry, this.encode(entry, ttlMs));
    this.own.set(entry.ref, seq);
    // After the new entry is in, so a failure leaves the old one rather than neither.
    return replaced === undefined || (await this.remove(replaced));
  }

  /**
   * Removes the entries; returns those this call removed. When only some removals fail, the others'
   * leaves must still go out, so the failures are reported and left to lapse (a sweep removes them).
   */
  async untrack(entries: readonly PresenceEntry[]): Promise<PresenceEntry[]> {
    const outcomes = await Promise.allSettled(entries.map((entry) => this.remove(entry)));
    const removed = entries.filter((_, i) => {
      const outcome = outcomes[i];
      return outcome?.status === "fulfilled" && outcome.value;
    });
    const failed = outcomes.filter((outcome) => outcome.status === "rejected");
    if (failed.length === entries.length && failed[0] !== undefined) throw failed[0].reason;
    for (const failure of failed) {
      this.transport.diagnostics.backgroundError(failure.reason, { during: "presence untrack" });
    }
    return removed;
  }

  async list(group: string): Promise<PresenceEntry[]> {
    const { subjects, js } = this.transport;
    const stream = subjects.presenceStream;
    const read = await readSubject(this.transport, stream, subjects.presenceGroup(group));
    // A refresh during the read moves an entry to the end of the stream, where the read may meet it again.
    const entries = new Map<string, PresenceEntry>();
    const seen = new Set<string>();
    for (const message of read?.messages ?? []) {
      const { entry } = this.decode(message.data, message.seq);
      if (entry !== undefined) {
        entries.set(entry.ref, entry);
        seen.add(subjects.presenceEntry(group, entry.ref));
      }
    }
    // The read ends on the server's count of what is left, which nats-server 2.9 can get wrong
    // while refreshes move entries (it ended with 228 of 300 under load): whatever entry the
    // stream holds now and the read missed is fetched by its subject.
    const missed = (await js.subjectsHolding(stream, subjects.presenceGroup(group))).filter((one) => !seen.has(one));
    const fetched = await Promise.all(missed.map((subject) => js.lastOnSubject(stream, subject)));
    for (const message of fetched) {
      if (message === undefined) continue; // removed since the stream's state was taken
      const { entry } = this.decode(message.data, message.seq);
      if (entry !== undefined) entries.set(entry.ref, entry);
    }
    return [...entries.values()];
  }

  /** Rewrites each entry if it is still the one this instance wrote; returns those that are gone. */
  async refresh(entries: readonly PresenceEntry[], ttlMs: number): Promise<PresenceEntry[]> {
    const gone: PresenceEntry[] = [];
    const refreshed = new Map<string, number>();
    this.refreshedSinceSweep = refreshed;
    for (let start = 0; start < entries.length; start += REFRESH_BATCH) {
      const batch = entries.slice(start, start + REFRESH_BATCH);
      const alive = await Promise.all(batch.map((entry) => this.refreshOne(entry, ttlMs, refreshed)));
      for (let i = 0; i < batch.length; i++) if (!alive[i]) gone.push(batch[i] as PresenceEntry);
    }
    return gone;
  }

  /**
   * Removes lapsed entries, of any instance, oldest first, for at most `sweepBudgetMs` (the rest waits
   * for the next heartbeat, so a long sweep never holds up this instance's own refreshes); returns
   * those this call removed. `fallbackTtlMs` is the life of an entry whose bytes say none.
   */
  async sweep(): Promise<PresenceEntry[]> {
    const { fallbackTtlMs, sweepBudgetMs: budgetMs } = this;
    const { js, subjects } = this.transport;
    const stream = subjects.presenceStream;
    const next = (seq: number) => js.directGet(stream, { seq, next_by_subj: subjects.presenceEntries });
    // Entries the refresh just before this sweep wrote (the heartbeat refreshes, then sweeps) are
    // alive whatever the clocks say: this process may have stalled between that write and the tick.
    const refreshed = this.refreshedSinceSweep;
    this.refreshedSinceSweep = undefined;
    const started = Date.now();
    let cursor = await next(1);
    if (cursor === undefined) return [];
    const now = await this.serverNow();
    // Deletes run while the scan reads on; each resolves with its entry when this call removed it.
    const deletions: Promise<PresenceEntry | undefined>[] = [];
    let failure: unknown;
    try {
      while (cursor !== undefined && now !== undefined && Date.now() - started < budgetMs) {
        const { entry, ttlMs } = this.decode(cursor.data, cursor.seq);
        if (cursor.storedAt + (ttlMs ?? fallbackTtlMs) > now) break;
        if (entry === undefined || refreshed?.get(entry.ref) !== cursor.seq) {
          deletions.push(js.deleteMessage(stream, cursor.seq).then((deleted) => (deleted ? entry : undefined)));
          if (deletions.length % DELETES_IN_FLIGHT === 0) await Promise.allSettled(deletions.slice(-DELETES_IN_FLIGHT));
        }
        cursor = await next(cursor.seq + 1);
      }
    } catch (error) {
      failure = error;
    }
    const removed: PresenceEntry[] = [];
    for (const outcome of await Promise.allSettled(deletions)) {
      if (outcome.status === "fulfilled" && outcome.value !== undefined) removed.push(outcome.value);
      else if (outcome.status === "rejected") failure ??= outcome.reason;
    }
    if (failure !== undefined) {
      // What this call removed is gone for everyone else: its leaves must still go out.
      if (removed.length === 0) throw failure;
      this.transport.diagnostics.backgroundError(failure, { during: "presence sweep", removed: removed.length });
    }
    return removed;
  }

  /** Forgets this instance's sequences (flush emptied the stream; close). */
  clear(): void {
    this.own.clear();
  }

  private async refreshOne(entry: PresenceEntry, ttlMs: number, refreshed: Map<string, number>): Promise<boolean> {
    const known = this.own.get(entry.ref);
    if (known === undefined) return false;
    try {
      const seq = await this.transport.js.publish(this.subjectOf(entry), this.encode(entry, ttlMs), known);
      // Untracked meanwhile: its purge came after this write and removed it, so nothing to keep.
      if (this.own.get(entry.ref) === known) this.own.set(entry.ref, seq);
      refreshed.set(entry.ref, seq);
      return true;
    } catch (error) {
      if (error instanceof NoStream) return false;
      if (error instanceof StreamPublishError && error.code === ApiCode.wrongLastSequence) {
        // A sweep removed it (or a flush): the base tracks it again.
        if (this.own.get(entry.ref) === known) this.own.delete(entry.ref);
        return false;
      }
      throw unavailable(`refresh the presence of ${entry.key} in ${entry.group}`, error);
    }
  }

  /** Removes one entry, whatever its sequence now; true when this call removed it. */
  private async remove(entry: PresenceEntry): Promise<boolean> {
    this.own.delete(entry.ref);
    const { js, subjects } = this.transport;
    return (await js.purgeSubject(subjects.presenceStream, this.subjectOf(entry))) > 0;
  }

  private async write(entry: PresenceEntry, payload: Uint8Array): Promise<number> {
    const subject = this.subjectOf(entry);
    try {
      try {
        return await this.transport.js.publish(subject, payload);
      } catch (error) {
        if (!(error instanceof NoStream)) throw error;
        await this.ensureStream(true);
        return await this.transport.js.publish(subject, payload);
      }
    } catch (error) {
      throw unavailable(`track ${entry.key} in ${entry.group}`, error);
    }
  }

  /** The server's clock: the store time of a tick written now. Undefined when the stream is gone. */
  private async serverNow(): Promise<number | undefined> {
    const { js, subjects } = this.transport;
    let seq: number;
    try {
      seq = await js.publish(subjects.presenceClock(this.transport.instanceId), new Uint8Array(0));
    } catch (error) {
      if (error instanceof NoStream) return undefined;
      throw unavailable("read the server's clock", error);
    }
    return (await js.directGet(subjects.presenceStream, { seq }))?.storedAt;
  }

  private subjectOf(entry: PresenceEntry): string {
    return this.transport.subjects.presenceEntry(entry.group, entry.ref);
  }

  private encode(entry: PresenceEntry, ttlMs: number): Uint8Array {
    const { group, key, channel, ref, instance, meta } = entry;
    return this.transport.serializer.encode({
      type: ENTRY_TYPE,
      group,
      key,
      channel,
      ref,
      instance,
      meta,
      ttlMs,
    });
  }

  private decode(data: Uint8Array, seq: number): ReadEntry {
    const message: Message | undefined = this.transport.decode(data, { presenceEntry: seq });
    if (message === undefined) return { entry: undefined, ttlMs: undefined };
    const { type, group, key, channel, ref, instance, meta, ttlMs } = message;
    const life = typeof ttlMs === "number" && ttlMs > 0 ? ttlMs : undefined;
    const fields = [group, key, channel, ref, instance];
    if (
      type !== ENTRY_TYPE ||
      !fields.every((field) => typeof field === "string") ||
      typeof meta !== "object" ||
      meta === null ||
      Array.isArray(meta)
    ) {
      this.transport.dropUnreadable({ presenceEntry: seq }, new TypeError("not a presence entry"));
      return { entry: undefined, ttlMs: life };
    }
    const entry = { group, key, channel, ref, instance, meta } as PresenceEntry;
    return { entry, ttlMs: life };
  }

  private ensureStream(again = false): Promise<void> {
    const { js, subjects, settings } = this.transport;
    const name = subjects.presenceStream;
    return this.stream.ensure(
      name,
      () =>
        js.addStream({
          name,
          description: `channel-layers ${subjects.prefix}: presence entries`,
          subjects: [`${subjects.root}.p.>`],
          retention: "limits",
          storage: "file",
          discard: "old",
          max_msgs_per_subject: 1,
          max_age: nanos(ABANDONED_AFTER_MS),
          duplicate_window: duplicateWindowFor(ABANDONED_AFTER_MS),
          allow_direct: true,
          num_replicas: settings.replicas,
        }),
      again,
    );
  }
}
