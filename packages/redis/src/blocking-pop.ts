import type { RedisClient } from "./scripts.js";

/** A popped sorted-set entry: the member's bytes and its score (send time in seconds) as Redis wrote it. */
export type PoppedEntry = [member: Buffer, score: Buffer];

/** What one blocking pop returned: the key it came from and up to `count` entries, lowest score first. */
export interface Popped {
  key: string;
  entries: PoppedEntry[];
}

let bzmpopMissing = false;

/**
 * BZMPOP (Redis 7): blocks until one of `keys` has entries, then pops up to `count` of the first
 * such key in one reply. On an older Redis, BZPOPMIN (one entry a call). Resolves undefined on
 * timeout.
 */
export async function blockingPop(
  client: RedisClient,
  keys: readonly string[],
  count: number,
  timeoutSeconds: number,
): Promise<Popped | undefined> {
  if (!bzmpopMissing) {
    try {
      const reply = (await client.callBuffer("BZMPOP", timeoutSeconds, keys.length, ...keys, "MIN", "COUNT", count)) as
        | [Buffer, PoppedEntry[]]
        | null;
      return reply ? { key: reply[0].toString(), entries: reply[1] } : undefined;
    } catch (error) {
      if (!/unknown command/i.test((error as Error).message)) throw error;
      bzmpopMissing = true;
    }
  }
  const reply = (await client.callBuffer("BZPOPMIN", ...keys, timeoutSeconds)) as [Buffer, Buffer, Buffer] | null;
  return reply ? { key: reply[0].toString(), entries: [[reply[1], reply[2]]] } : undefined;
}

/** Resolves after `ms` (a loop backing off after an error it cannot fix by retrying at once). */
export function backOff(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
