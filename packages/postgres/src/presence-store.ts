import type { Message, PresenceMeta } from "@channel-layers/core";
import type { PresenceEntry } from "@channel-layers/core/backend";
import type { PostgresTransport } from "./transport.js";

/** The `type` of a track's key and meta as the presence table stores them (MessagePack). */
const ENTRY_TYPE = "presence.entry";

/** A row of the presence table, as list and sweep read it. */
interface PresenceRow {
  group_name: string;
  ref: string;
  channel: string;
  instance_id: string;
  entry: Buffer;
}

/**
 * Presence on two tables (docs/postgres.md, "Presence"): a row per track, and a row per instance
 * whose expiry the heartbeat extends, one UPDATE however many tracks it has. A sweep deletes a
 * lapsed instance's row and its tracks in one statement, so each track is removed, and its leave
 * sent, once.
 */
export class PostgresPresence {
  /** Whether this instance ever tracked: only then has it a row to release on close. */
  private used = false;

  /** `instance`: the layer's instance id, whose row the refreshes extend. */
  constructor(
    private readonly transport: PostgresTransport,
    private readonly instance: string,
  ) {}

  /** Inserts `entry` and deletes `replaced` in one statement; false when `replaced` was already gone (swept). */
  async track(entry: PresenceEntry, replaced: PresenceEntry | undefined, ttlMs: number): Promise<boolean> {
    const { transport } = this;
    const payload = transport.encode({ type: ENTRY_TYPE, key: entry.key, meta: entry.meta });
    this.used = true;
    const { rows } = await transport.run<{ replaced_was_there: boolean }>(
      transport.statements.presenceTrack,
      "track a presence",
      [entry.group, entry.ref, entry.channel, entry.instance, payload, ttlMs, replaced?.ref ?? null],
    );
    return rows[0]?.replaced_was_there !== false;
  }

  /** Deletes `entries`; returns those this call deleted. */
  async untrack(entries: readonly PresenceEntry[]): Promise<PresenceEntry[]> {
    const { transport } = this;
    const { rows } = await transport.run<{ group_name: string; ref: string }>(
      transport.statements.presenceUntrack,
      "untrack a presence",
      [entries.map((entry) => entry.group), entries.map((entry) => entry.ref)],
    );
    const removed = new Set(rows.map((row) => idOf(row.group_name, row.ref)));
    return entries.filter((entry) => removed.has(idOf(entry.group, entry.ref)));
  }

  async list(group: string): Promise<PresenceEntry[]> {
    const { transport } = this;
    const { rows } = await transport.run<PresenceRow>(transport.statements.presenceList, "list a group's presences", [
      group,
    ]);
    return this.entriesOf(rows.map((row) => ({ ...row, group_name: group })));
  }

  /** Extends this instance's row; returns the entries that are gone (all of them when the row was swept). */
  async refresh(entries: readonly PresenceEntry[], ttlMs: number): Promise<PresenceEntry[]> {
    const { transport } = this;
    const { rows } = await transport.run<{ i: number }>(transport.statements.presenceRefresh, "refresh presences", [
      this.instance,
      ttlMs,
      entries.map((entry) => entry.group),
      entries.map((entry) => entry.ref),
    ]);
    return rows.flatMap((row) => entries[row.i - 1] ?? []);
  }

  /** Removes the tracks of every lapsed instance; returns those this call removed. */
  async sweep(): Promise<PresenceEntry[]> {
    const { transport } = this;
    const { rows } = await transport.run<PresenceRow>(transport.statements.presenceSweep, "sweep lapsed presences");
    return this.entriesOf(rows);
  }

  /** On close, after the base untracked what was left: deletes `instance`'s row unless tracks of it remain. */
  async release(instance: string): Promise<void> {
    if (!this.used) return;
    const { transport } = this;
    await transport.run(transport.statements.presenceRelease, "release this instance's presence row", [instance]);
  }

  /** Rows as entries; a row whose entry does not decode is counted, logged and left out. */
  private entriesOf(rows: readonly PresenceRow[]): PresenceEntry[] {
    const entries: PresenceEntry[] = [];
    for (const row of rows) {
      const decoded = this.transport.decode(row.entry, { group: row.group_name, presence: row.ref });
      const fields = decoded === undefined ? undefined : entryFields(decoded);
      if (fields === undefined) continue;
      entries.push({
        group: row.group_name,
        key: fields.key,
        channel: row.channel,
        ref: row.ref,
        meta: fields.meta,
        instance: row.instance_id,
      });
    }
    return entries;
  }
}

function idOf(group: string, ref: string): string {
  return `${group}\0${ref}`;
}

/** The key and meta of a decoded entry, or undefined when it is not one this layer wrote. */
function entryFields(decoded: Message): { key: string; meta: PresenceMeta } | undefined {
  const { key, meta } = decoded;
  if (decoded.type !== ENTRY_TYPE || typeof key !== "string") return undefined;
  if (typeof meta !== "object" || meta === null || Array.isArray(meta)) return undefined;
  return { key, meta: meta as PresenceMeta };
}
