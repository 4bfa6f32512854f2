import { randomBytes } from "node:crypto";
import { type Service, startService } from "@channel-layers/integration";
import { afterAll, beforeAll } from "vitest";

/**
 * The Redis the tests of this file use: REDIS_URL (the shared server, CI), else a throwaway
 * local redis-server, else none (tests skip; under CI=true startService throws instead).
 */
export function useRedis(): { readonly url: string | undefined; readonly service: Service | undefined } {
  const state: { url: string | undefined; service: Service | undefined } = { url: undefined, service: undefined };
  beforeAll(async () => {
    state.service = await startService("redis");
    state.url = state.service?.url;
  });
  afterAll(async () => {
    await state.service?.stop();
  });
  return state;
}

/** A prefix no other test uses. */
export function freshPrefix(label = "test"): string {
  return `${label}-${randomBytes(6).toString("hex")}:`;
}
