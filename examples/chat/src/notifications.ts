/** What get_notification() returns in the seed: the latest notifications per center, in this process. */
const KEPT_PER_CENTER = 20;
const recent = new Map<string, unknown[]>();

export function rememberNotification(center: string, data: unknown): void {
  const list = recent.get(center) ?? [];
  list.push(data);
  if (list.length > KEPT_PER_CENTER) list.shift();
  recent.set(center, list);
}

export function getNotifications(center: string): unknown[] {
  return [...(recent.get(center) ?? [])];
}
