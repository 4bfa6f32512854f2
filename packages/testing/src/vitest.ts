import { test as base } from "vitest";
import { startNats } from "./nats.js";
import { startPostgres } from "./postgres.js";
import { startRedis } from "./redis.js";
import { missingServiceHint, type StartServiceOptions, type TestService } from "./service.js";

/**
 * vitest's `test` with a fixture per server. `redis`, `postgres` and `nats` are started once per
 * file on first use (the environment URL's server when set) and stopped after it;
 * `throwawayRedis`, `throwawayPostgres` and `throwawayNats` are servers of the test's own that it
 * may kill and restart, stopped after the test. A test whose server cannot be had is skipped,
 * or fails under CI=true / REQUIRE_SERVICES=1. `serviceOptions` are what the per-file servers are
 * started with (default none).
 */
export const test = base
  .extend("serviceOptions", { scope: "worker" }, {} as StartServiceOptions)
  .extend("redisForFile", { scope: "file" }, async ({ serviceOptions }, { onCleanup }) => {
    const service = await startRedis(serviceOptions);
    onCleanup(async () => service?.stop());
    return service;
  })
  .extend("postgresForFile", { scope: "file" }, async ({ serviceOptions }, { onCleanup }) => {
    const service = await startPostgres(serviceOptions);
    onCleanup(async () => service?.stop());
    return service;
  })
  .extend("natsForFile", { scope: "file" }, async ({ serviceOptions }, { onCleanup }) => {
    const service = await startNats(serviceOptions);
    onCleanup(async () => service?.stop());
    return service;
  })
  .extend("redis", async ({ redisForFile, skip }): Promise<TestService> => {
    return redisForFile ?? skip(missingServiceHint("redis"));
  })
  .extend("postgres", async ({ postgresForFile, skip }): Promise<TestService> => {
    return postgresForFile ?? skip(missingServiceHint("postgres"));
  })
  .extend("nats", async ({ natsForFile, skip }): Promise<TestService> => {
    return natsForFile ?? skip(missingServiceHint("nats"));
  })
  .extend("throwawayRedis", async ({ skip }, { onCleanup }): Promise<TestService> => {
    const service = (await startRedis({ throwaway: true })) ?? skip(missingServiceHint("redis"));
    onCleanup(() => service.stop());
    return service;
  })
  .extend("throwawayPostgres", async ({ skip }, { onCleanup }): Promise<TestService> => {
    const service = (await startPostgres({ throwaway: true })) ?? skip(missingServiceHint("postgres"));
    onCleanup(() => service.stop());
    return service;
  })
  .extend("throwawayNats", async ({ skip }, { onCleanup }): Promise<TestService> => {
    const service = (await startNats({ throwaway: true })) ?? skip(missingServiceHint("nats"));
    onCleanup(() => service.stop());
    return service;
  });

/** The same as `test`. */
export const it = test;
