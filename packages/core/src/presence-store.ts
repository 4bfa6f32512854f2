import type { PresenceEntry } from "./presence-entry.js";

/**
 * Where a backend keeps presence entries. A layer that lists Extension.presence hands one to
 * BaseChannelLayer (its `presenceStore`), whose `_presence*` methods call it; each method's
 * contract is on the `_presence*` method of the same name there.
 */
export interface PresenceStore {
  track(entry: PresenceEntry, replaced: PresenceEntry | undefined, ttlMs: number): boolean | Promise<boolean>;
  untrack(entries: readonly PresenceEntry[]): PresenceEntry[] | Promise<PresenceEntry[]>;
  list(group: string): PresenceEntry[] | Promise<PresenceEntry[]>;
  refresh(entries: readonly PresenceEntry[], ttlMs: number): PresenceEntry[] | Promise<PresenceEntry[]>;
  sweep(): PresenceEntry[] | Promise<PresenceEntry[]>;
}
