import { randomBytes } from "node:crypto";
import { startService, type TestService } from "@channel-layers/testing";
import { afterAll } from "vitest";

/**
 * The Redis the tests of this file use, found at load time: REDIS_URL (the shared server, CI),
 * else a throwaway local redis-server, else none: `url` is undefined and the file's tests skip
 * (under CI=true startService throws instead). A throwaway server stops after the file.
 */
export async function useRedis(): Promise<{
  readonly url: string | undefined;
  readonly service: TestService | undefined;
}> {
  const service = await startService("redis");
  afterAll(async () => {
    await service?.stop();
  });
  return { url: service?.url, service };
}

/** A prefix no other test uses. */
export function freshPrefix(label = "test"): string {
  return `${label}-${randomBytes(6).toString("hex")}:`;
}
