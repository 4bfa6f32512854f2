import { execFile, execFileSync } from "node:child_process";
import { chownSync, rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { findPostgresBinDir } from "./binaries.js";
import { type ContainerSpec, containerRuntimeAnswers, startContainer } from "./containers.js";
import { freePort } from "./free-port.js";
import { localServersAllowed, makeDataDir, startLocalServer } from "./local-server.js";
import { postgresAcceptsLogin } from "./postgres-probe.js";
import { resolveService } from "./resolve.js";
import { missingServiceHint, type StartServiceOptions, servicesRequired, type TestService } from "./service.js";
import { sharedServer } from "./shared-server.js";
import { waitFor } from "./wait-for.js";

const run = promisify(execFile);

/** The PostgreSQL the layer is tested on (docs/postgres.md). */
export const POSTGRES_IMAGE = "postgres:15-alpine";

/** PostgreSQL refuses to run as root: when we are root, it runs as the `postgres` user. */
function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8", stdio: "pipe" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8", stdio: "pipe" }).trim());
    return { uid, gid };
  } catch {
    throw new Error("PostgreSQL will not run as root, and there is no `postgres` user to run it as");
  }
}

function postgresContainer(image = POSTGRES_IMAGE): ContainerSpec {
  return {
    kind: "postgres",
    image,
    port: 5432,
    environment: { POSTGRES_HOST_AUTH_METHOD: "trust" },
    url: (host, port) => `postgres://postgres@${host}:${port}/postgres`,
    // The image's first-boot server listens on a Unix socket only: TCP logins mean the real one is up.
    ready: (host, port) => postgresAcceptsLogin(port, { host }),
  };
}

async function startLocalPostgres(binDir: string, args: readonly string[] = []): Promise<TestService> {
  const port = await freePort();
  const dataDir = makeDataDir("postgres");
  const user = postgresUser();
  try {
    if (user) chownSync(dataDir, user.uid, user.gid);
    const initdb = ["-D", dataDir, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"];
    await run(join(binDir, "initdb"), initdb, user ?? {});
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${(error as { stderr?: string }).stderr ?? (error as Error).message}`);
  }
  const settings = ["-c", "fsync=off", "-c", "max_connections=200"];
  return startLocalServer({
    kind: "postgres",
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dataDir,
    command: {
      command: join(binDir, "postgres"),
      args: ["-D", dataDir, "-p", String(port), "-h", "127.0.0.1", "-k", dataDir, ...settings, ...args],
      user,
      // SIGINT is PostgreSQL's fast shutdown; SIGTERM would wait for every client to leave.
      stopSignal: "SIGINT",
      ready: () => waitFor(`postgres on 127.0.0.1:${port}`, () => postgresAcceptsLogin(port)),
    },
  });
}

/**
 * A PostgreSQL for tests: DATABASE_URL (unless `throwaway`), else a container, else a throwaway
 * server from the local binaries (initdb in a temporary directory, trust auth, user and database
 * `postgres`), else undefined (or a rejection when required).
 */
export async function startPostgres(options: StartServiceOptions = {}): Promise<TestService | undefined> {
  const binDir = findPostgresBinDir();
  return resolveService({
    what: "PostgreSQL",
    hint: missingServiceHint("postgres"),
    envUrl: process.env.DATABASE_URL,
    fromEnv: (url) => sharedServer("postgres", url),
    throwaway: options.throwaway === true || options.args !== undefined,
    containerRuntime: containerRuntimeAnswers,
    container: options.args ? undefined : () => startContainer(postgresContainer(options.image)),
    local: binDir && localServersAllowed() ? () => startLocalPostgres(binDir, options.args) : undefined,
    required: options.required ?? servicesRequired(),
  });
}
