/** The servers this package provides. */
export type ServiceKind = "redis" | "postgres" | "nats";

/** Where a server came from: the environment's URL, a testcontainers container, or a local binary we started. */
export type ServiceSource = "env" | "container" | "local";

/** A server for tests. `kill` and `restart` work only on servers this process started. */
export interface TestService {
  readonly kind: ServiceKind;
  /** Where to connect. Read it again after restart(): a container's mapped port may change. */
  readonly url: string;
  readonly source: ServiceSource;
  /** The server's pid while a local server runs; undefined otherwise. */
  readonly pid: number | undefined;
  /** Stops it (if it is ours) and removes its data. A shared (env) server is left alone. */
  stop(): Promise<void>;
  /** Starts it again, killing it first if it still runs: the same port and data for a local server. */
  restart(): Promise<void>;
  /**
   * Sends `signal` to the server (its whole process group for a local one): SIGKILL, the default,
   * is a crash. For SIGKILL, SIGTERM, SIGINT, SIGQUIT and SIGABRT it resolves once the server is
   * gone; SIGSTOP and SIGCONT pause and resume it.
   */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /**
   * Sends `signal` to one process of a local server's process group, such as a PostgreSQL backend
   * found through pg_stat_activity, after checking it still belongs to the server.
   */
  signalProcess(pid: number, signal: NodeJS.Signals): void;
}

/** Options every start function takes. */
export interface StartServiceOptions {
  /**
   * A server of this process's own, never the one the environment URL names: for tests that
   * kill, restart or reconfigure it. Default false.
   */
  throwaway?: boolean;
  /**
   * Extra command-line arguments for the server binary (e.g. TLS flags). They may name local
   * files, so they imply a throwaway server from the local binary (no container). Default none.
   */
  args?: string[];
  /** The container image; default the version the layers are tested on. */
  image?: string;
  /**
   * Reject instead of resolving undefined when no server can be had. Default: true under
   * CI=true or REQUIRE_SERVICES=1.
   */
  required?: boolean;
}

/** The environment variable that names each kind's shared server. */
export const ENV_URL: Record<ServiceKind, string> = {
  redis: "REDIS_URL",
  postgres: "DATABASE_URL",
  nats: "NATS_URL",
};

/** Under CI=true or REQUIRE_SERVICES=1 a missing service fails the run instead of skipping. */
export function servicesRequired(): boolean {
  return process.env.CI === "true" || process.env.REQUIRE_SERVICES === "1";
}

/** What to install or set to get a `kind` server; the skip and error messages name it. */
export function missingServiceHint(kind: ServiceKind): string {
  const binary = { redis: "redis-server", postgres: "postgres (PostgreSQL)", nats: "nats-server" }[kind];
  return `no ${kind} server: set ${ENV_URL[kind]}, run a container runtime with testcontainers installed, or install ${binary}`;
}
