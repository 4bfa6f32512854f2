/**
 * Bounds of the backlog get_notification() returns (per center, in this process), so no stream
 * of POSTs can grow the heap: past them the least recently used centers go first.
 */
export const NOTIFICATION_LIMITS = {
  /** Centers with a backlog; one more evicts the least recently used (posted to or read). */
  maxCentres: 1000,
  /** Latest notifications kept per center. */
  keptPerCentre: 20,
  /** Largest notification, as JSON; bigger is refused with 413. */
  maxEntryBytes: 4096,
  /** All backlogs together, as JSON; past it whole centers are evicted, least recently used first. */
  maxStoredBytes: 4 * 1024 * 1024,
} as const;

interface Backlog {
  entries: { data: unknown; bytes: number }[];
  bytes: number;
}

/** A Map iterates in insertion order: re-inserting a center on use keeps the least recently used first. */
const backlogs = new Map<string, Backlog>();
let storedBytes = 0;

function touch(center: string): Backlog | undefined {
  const backlog = backlogs.get(center);
  if (backlog !== undefined) {
    backlogs.delete(center);
    backlogs.set(center, backlog);
  }
  return backlog;
}

function evictLeastRecentlyUsed(): void {
  for (const [center, backlog] of backlogs) {
    if (backlogs.size <= NOTIFICATION_LIMITS.maxCentres && storedBytes <= NOTIFICATION_LIMITS.maxStoredBytes) return;
    backlogs.delete(center);
    storedBytes -= backlog.bytes;
  }
}

/** Keeps an already validated notification (`bytes`: its JSON size, at most maxEntryBytes). */
export function rememberNotification(center: string, data: unknown, bytes: number): void {
  const backlog = touch(center) ?? { entries: [], bytes: 0 };
  backlogs.set(center, backlog);
  backlog.entries.push({ data, bytes });
  backlog.bytes += bytes;
  storedBytes += bytes;
  while (backlog.entries.length > NOTIFICATION_LIMITS.keptPerCentre) {
    const dropped = backlog.entries.shift();
    backlog.bytes -= dropped?.bytes ?? 0;
    storedBytes -= dropped?.bytes ?? 0;
  }
  evictLeastRecentlyUsed();
}

/** The center's backlog, oldest first. */
export function getNotifications(center: string): unknown[] {
  return touch(center)?.entries.map((entry) => entry.data) ?? [];
}

/** What the backlogs hold now: what the bounds are checked against. */
export function notificationStats(): { centres: number; entries: number; bytes: number } {
  let entries = 0;
  for (const backlog of backlogs.values()) entries += backlog.entries.length;
  return { centres: backlogs.size, entries, bytes: storedBytes };
}
