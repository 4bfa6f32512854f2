import { findBinary } from "./binaries.js";
import { type ContainerSpec, containerRuntimeAnswers, startContainer } from "./containers.js";
import { freePort } from "./free-port.js";
import { type LocalServerPlan, localServersAllowed, makeDataDir, startLocalServer } from "./local-server.js";
import { resolveService } from "./resolve.js";
import { missingServiceHint, type StartServiceOptions, servicesRequired, type TestService } from "./service.js";
import { sharedServer } from "./shared-server.js";
import { probeTcp, waitFor } from "./wait-for.js";

/** The Redis the layers are tested on (docs/redis.md). */
export const REDIS_IMAGE = "redis:7.0.15-alpine";

/** A reply to PING from a Redis that is up: PONG, or NOAUTH from one that wants a password. */
const UP = /^(\+PONG|-NOAUTH)/;

/** Resolves once the Redis (or Sentinel) on `port` answers PING. */
export function redisAnswers(port: number, host = "127.0.0.1"): Promise<void> {
  return waitFor(`Redis on ${host}:${port}`, () => probeTcp(port, UP, "PING\r\n", host));
}

/** A throwaway redis-server on `port` (a free one by default), without persistence, in a fresh directory. */
export async function planLocalRedis(
  binary: string,
  args: readonly string[] = [],
  port?: number,
): Promise<LocalServerPlan> {
  const chosen = port ?? (await freePort());
  const dataDir = makeDataDir("redis");
  const settings = ["--port", String(chosen), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
  return {
    kind: "redis",
    url: `redis://127.0.0.1:${chosen}`,
    dataDir,
    command: { command: binary, args: [...settings, "--dir", dataDir, ...args], ready: () => redisAnswers(chosen) },
  };
}

function redisContainer(image = REDIS_IMAGE): ContainerSpec {
  return {
    kind: "redis",
    image,
    port: 6379,
    url: (host, port) => `redis://${host}:${port}`,
    ready: (host, port) => probeTcp(port, UP, "PING\r\n", host),
  };
}

/**
 * A Redis for tests: REDIS_URL (unless `throwaway`), else a container, else a throwaway
 * redis-server from the local binary, else undefined (or a rejection when required).
 */
export async function startRedis(options: StartServiceOptions = {}): Promise<TestService | undefined> {
  const binary = findBinary("redis-server");
  return resolveService({
    what: "Redis",
    hint: missingServiceHint("redis"),
    envUrl: process.env.REDIS_URL,
    fromEnv: (url) => sharedServer("redis", url),
    throwaway: options.throwaway === true || options.args !== undefined,
    containerRuntime: containerRuntimeAnswers,
    container: options.args ? undefined : () => startContainer(redisContainer(options.image)),
    local:
      binary && localServersAllowed()
        ? async () => startLocalServer(await planLocalRedis(binary, options.args))
        : undefined,
    required: options.required ?? servicesRequired(),
  });
}
