import { findBinary, findPostgresBinDir } from "./binaries.js";
import { startNats } from "./nats.js";
import { startPostgres } from "./postgres.js";
import { startRedis } from "./redis.js";
import type { ServiceKind, StartServiceOptions, TestService } from "./service.js";

/** startRedis, startPostgres or startNats by name: for tests that run once per backend. */
export function startService(kind: ServiceKind, options: StartServiceOptions = {}): Promise<TestService | undefined> {
  if (kind === "redis") return startRedis(options);
  if (kind === "postgres") return startPostgres(options);
  return startNats(options);
}

/** Whether the binaries to run a local `kind` server are installed (PATH or the usual install roots). */
export function hasLocalBinary(kind: ServiceKind): boolean {
  if (kind === "redis") return findBinary("redis-server") !== undefined;
  if (kind === "nats") return findBinary("nats-server") !== undefined;
  return findPostgresBinDir() !== undefined;
}
