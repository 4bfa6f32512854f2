import { startService, type TestService } from "@channel-layers/testing";

/**
 * The Redis a suite runs against: a private throwaway redis-server when the binary is here, as the
 * shared one also serves test runs; else the one REDIS_URL names; undefined when neither is there.
 */
export async function startBenchRedis(): Promise<TestService | undefined> {
  return (await startService("redis", { throwaway: true }).catch(() => undefined)) ?? (await startService("redis"));
}

export const NO_REDIS = "no Redis: set REDIS_URL or install redis-server";
