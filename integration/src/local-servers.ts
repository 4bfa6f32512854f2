import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.js";
import type { ServerCommand } from "./server-process.js";
import type { ServiceKind } from "./service.js";
import { portAnswers, probeTcp, waitFor } from "./wait-for.js";

/** What a local binary needs to run one throwaway server: a port and a data directory. */
export interface LocalServerPlan {
  port: number;
  dataDir: string;
  url: string;
  command: ServerCommand;
}

function which(binary: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":").concat(["/usr/sbin", "/usr/bin"])) {
    const path = join(dir, binary);
    if (dir && existsSync(path)) return path;
  }
  return undefined;
}

function postgresBinDir(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const bin = join(root, version, "bin");
    if (existsSync(join(bin, "postgres"))) return bin;
  }
  return undefined;
}

function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
  return { uid, gid };
}

/** Whether the local binaries for `kind` are installed. */
export function hasLocalBinary(kind: ServiceKind): boolean {
  if (kind === "redis") return which("redis-server") !== undefined;
  if (kind === "nats") return which("nats-server") !== undefined;
  return postgresBinDir() !== undefined;
}

/** Prepares (but does not start) a throwaway server of `kind` on a free port with a fresh data directory. */
export async function planLocalServer(kind: ServiceKind, extraArgs: string[] = []): Promise<LocalServerPlan> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), `channel-layers-${kind}-`));
  if (kind === "redis") {
    return {
      port,
      dataDir,
      url: `redis://127.0.0.1:${port}`,
      command: {
        command: which("redis-server") ?? "redis-server",
        args: [
          "--port",
          String(port),
          "--bind",
          "127.0.0.1",
          "--save",
          "",
          "--appendonly",
          "no",
          "--dir",
          dataDir,
          ...extraArgs,
        ],
        ready: () => waitFor(`redis-server on ${port}`, () => probeTcp(port, "+PONG", "PING\r\n")),
      },
    };
  }
  if (kind === "nats") {
    return {
      port,
      dataDir,
      url: `nats://127.0.0.1:${port}`,
      command: {
        command: which("nats-server") ?? "nats-server",
        args: ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dataDir, ...extraArgs],
        ready: () => waitFor(`nats-server on ${port}`, () => probeTcp(port, "INFO")),
      },
    };
  }
  const bin = postgresBinDir();
  if (!bin) throw new Error("PostgreSQL binaries not found under /usr/lib/postgresql");
  const user = postgresUser();
  if (user) chownSync(dataDir, user.uid, user.gid);
  execFileSync(join(bin, "initdb"), ["-D", dataDir, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"], {
    stdio: "ignore",
    ...(user ?? {}),
  });
  return {
    port,
    dataDir,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    command: {
      command: join(bin, "postgres"),
      args: [
        "-D",
        dataDir,
        "-p",
        String(port),
        "-h",
        "127.0.0.1",
        "-k",
        dataDir,
        "-c",
        "fsync=off",
        "-c",
        "max_connections=200",
        ...extraArgs,
      ],
      user,
      ready: () =>
        waitFor(`postgres on ${port}`, async () => {
          if (!(await portAnswers(port))) return false;
          execFileSync(join(bin, "pg_isready"), ["-q", "-h", "127.0.0.1", "-p", String(port)]);
          return true;
        }),
    },
  };
}
