import { rmSync } from "node:fs";
import { startContainer } from "./containers.js";
import { hasLocalBinary, planLocalServer } from "./local-servers.js";
import { ServerProcess } from "./server-process.js";

export type ServiceKind = "redis" | "postgres" | "nats";

/** A server a test can use; `kill` and `restart` exist only for servers this process started. */
export interface Service {
  readonly kind: ServiceKind;
  readonly url: string;
  /** Where it came from: an env URL, a testcontainers container, or a local binary we started. */
  readonly source: "env" | "container" | "local";
  /** Stops it (if ours) and removes its data. */
  stop(): Promise<void>;
  /** Ends it abruptly, as a crash would (SIGKILL to the whole process group). */
  kill(): Promise<void>;
  /** Starts it again on the same port with the same data directory. */
  restart(): Promise<void>;
}

export interface StartServiceOptions {
  /** Ignore env URLs and shared servers: fault tests need a server they may kill. */
  throwaway?: boolean;
  /** Extra command-line arguments for a local server (e.g. `--cluster-enabled yes`). */
  args?: string[];
}

const ENV_URL: Record<ServiceKind, string> = {
  redis: "REDIS_URL",
  postgres: "DATABASE_URL",
  nats: "NATS_URL",
};

/** Under CI=true or REQUIRE_SERVICES=1 a missing service fails the run instead of skipping. */
export function servicesRequired(): boolean {
  return process.env.CI === "true" || process.env.REQUIRE_SERVICES === "1";
}

/** CHANNEL_LAYERS_LOCAL_SERVERS=0 turns off throwaway servers: how the tests behave on a machine without any. */
function localServersAllowed(): boolean {
  return process.env.CHANNEL_LAYERS_LOCAL_SERVERS !== "0";
}

function sharedService(kind: ServiceKind, url: string): Service {
  const refuse = async () => {
    throw new Error(`${ENV_URL[kind]} points at a shared ${kind} server: tests may not kill or restart it`);
  };
  return { kind, url, source: "env", stop: async () => undefined, kill: refuse, restart: refuse };
}

/** Starts a throwaway server from the local binary, on a free port, in a temporary data directory. */
export async function startLocalServer(kind: ServiceKind, args: string[] = []): Promise<Service> {
  const plan = await planLocalServer(kind, args);
  let server = new ServerProcess(plan.command);
  await server.start();
  return {
    kind,
    url: plan.url,
    source: "local",
    async stop() {
      await server.stop();
      rmSync(plan.dataDir, { recursive: true, force: true });
    },
    kill: () => server.kill(),
    async restart() {
      await server.kill();
      server = new ServerProcess(plan.command);
      await server.start();
    },
  };
}

/**
 * Finds a `kind` server for a test, in the order DESIGN.md fixes: the env URL (REDIS_URL,
 * DATABASE_URL, NATS_URL); a testcontainers container when a container runtime answers; a
 * throwaway server from the local binary. With none, resolves undefined (the test skips), or
 * throws under CI=true / REQUIRE_SERVICES=1.
 */
export async function startService(kind: ServiceKind, options: StartServiceOptions = {}): Promise<Service | undefined> {
  const url = process.env[ENV_URL[kind]];
  if (url && !options.throwaway) return sharedService(kind, url);
  const container = await startContainer(kind);
  if (container) return container;
  if (localServersAllowed() && hasLocalBinary(kind)) return startLocalServer(kind, options.args);
  if (servicesRequired()) {
    throw new Error(
      `No ${kind} server for the tests: set ${ENV_URL[kind]}, run a container runtime, or install the ${kind} server binary`,
    );
  }
  return undefined;
}
