import type { PresenceEntry } from "@channel-layers/core/backend";

interface StoredEntry {
  readonly entry: PresenceEntry;
  expiresAt: number;
}

/** The in-memory layer's presence entries: group -> ref -> entry and when it lapses. */
export class MemoryPresence {
  private readonly groups = new Map<string, Map<string, StoredEntry>>();

  /** Entries held now, lapsed ones not yet swept included. */
  get size(): number {
    let count = 0;
    for (const entries of this.groups.values()) count += entries.size;
    return count;
  }

  /** Stores `entry`, removing `replaced`; false when `replaced` was already gone (swept, its leave sent). */
  track(entry: PresenceEntry, replaced: PresenceEntry | undefined, ttlMs: number): boolean {
    const replacedWasThere = replaced === undefined || this.remove(replaced);
    let entries = this.groups.get(entry.group);
    if (entries === undefined) {
      entries = new Map();
      this.groups.set(entry.group, entries);
    }
    entries.set(entry.ref, { entry, expiresAt: Date.now() + ttlMs });
    return replacedWasThere;
  }

  /** Removes the entries; returns those that were there. */
  untrack(entries: readonly PresenceEntry[]): PresenceEntry[] {
    return entries.filter((entry) => this.remove(entry));
  }

  list(group: string): PresenceEntry[] {
    return [...(this.groups.get(group)?.values() ?? [])].map((stored) => stored.entry);
  }

  /** Extends the entries still held; returns the ones that are gone (it never re-creates them). */
  refresh(entries: readonly PresenceEntry[], ttlMs: number): PresenceEntry[] {
    const expiresAt = Date.now() + ttlMs;
    const lost: PresenceEntry[] = [];
    for (const entry of entries) {
      const stored = this.groups.get(entry.group)?.get(entry.ref);
      if (stored === undefined) lost.push(entry);
      else stored.expiresAt = expiresAt;
    }
    return lost;
  }

  /** Removes and returns every lapsed entry. */
  sweep(): PresenceEntry[] {
    const now = Date.now();
    const removed: PresenceEntry[] = [];
    for (const [group, entries] of this.groups) {
      for (const [ref, stored] of entries) {
        if (stored.expiresAt > now) continue;
        entries.delete(ref);
        removed.push(stored.entry);
      }
      if (entries.size === 0) this.groups.delete(group);
    }
    return removed;
  }

  clear(): void {
    this.groups.clear();
  }

  private remove(entry: PresenceEntry): boolean {
    const entries = this.groups.get(entry.group);
    if (entries === undefined || !entries.delete(entry.ref)) return false;
    if (entries.size === 0) this.groups.delete(entry.group);
    return true;
  }
}
