import type { RedisClient } from "./shards.js";

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

/**
 * Resolves with `pending`, or with undefined as soon as `signal` aborts: a loop being stopped
 * must not wait for a pop on a connection that is reconnecting (ioredis would never settle it).
 */
export function unlessAborted<T>(pending: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) {
    pending.catch(() => undefined);
    return Promise.resolve(undefined);
  }
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener("abort", onAbort, { once: true });
    pending.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
