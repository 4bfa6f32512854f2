import type { TestProject } from "vitest/node";
import { ENV_URL, type ServiceKind, type TestService } from "./service.js";
import { startService } from "./start-service.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** The Redis the global setup found or started (`inject("redisUrl")`). */
    redisUrl: string;
    /** The PostgreSQL the global setup found or started. */
    databaseUrl: string;
    /** The NATS the global setup found or started. */
    natsUrl: string;
  }
}

const PROVIDED_AS = { redis: "redisUrl", postgres: "databaseUrl", nats: "natsUrl" } as const;
const KINDS: readonly ServiceKind[] = ["redis", "postgres", "nats"];

/** The kinds CHANNEL_LAYERS_SERVICES names (e.g. "redis,nats"); all three when it is unset. */
function kindsFromEnvironment(): ServiceKind[] {
  const named = process.env.CHANNEL_LAYERS_SERVICES;
  if (!named) return [...KINDS];
  const kinds = named.split(",").map((name) => name.trim());
  const unknown = kinds.filter((kind) => !KINDS.includes(kind as ServiceKind));
  if (unknown.length > 0) throw new Error(`CHANNEL_LAYERS_SERVICES names unknown services: ${unknown.join(", ")}`);
  return kinds as ServiceKind[];
}

/**
 * A vitest globalSetup that finds or starts one server of each of `kinds` for the whole run and
 * sets REDIS_URL / DATABASE_URL / NATS_URL to it, so every test file (whose workers start after
 * this) shares it through startRedis() and the fixtures; `inject("redisUrl")` reads it too. A
 * server that cannot be had is left out (tests then skip), or fails the run when required.
 */
export function servicesGlobalSetup(kinds: readonly ServiceKind[]) {
  return async function setup(project: TestProject): Promise<() => Promise<void>> {
    const started: TestService[] = [];
    const stopAll = async () => {
      for (const service of started) delete process.env[ENV_URL[service.kind]];
      await Promise.all(started.splice(0).map((service) => service.stop()));
    };
    try {
      for (const kind of kinds) {
        const service = await startService(kind);
        if (!service) continue;
        if (service.source !== "env") {
          started.push(service);
          process.env[ENV_URL[kind]] = service.url;
        }
        project.provide(PROVIDED_AS[kind], service.url);
      }
    } catch (error) {
      await stopAll();
      throw error;
    }
    return stopAll;
  };
}

/** `globalSetup: ["@channel-layers/testing/global-setup"]`: the kinds CHANNEL_LAYERS_SERVICES names, else all three. */
export default servicesGlobalSetup(kindsFromEnvironment());
