import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "@channel-layers/core";
import { receiveWithin } from "@channel-layers/core/conformance";
import { PostgresChannelLayer, type PostgresChannelLayerOptions } from "@channel-layers/postgres";
import { startService, type TestService } from "@channel-layers/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { randomPrefix } from "./database.js";

// One throwaway PostgreSQL with ssl=on and its own pg_hba.conf: `tls_user` may only connect over
// TLS, `password_user` only with its password (SCRAM), `postgres` (the test's admin) with neither.
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/tls/${name}`, import.meta.url));
const CA = fixture("ca.pem");
const PASSWORD = "p@ss:w/rd secret";
const ARRIVAL_MS = 10_000;

const HBA = `
local   all  all            trust
host    all  postgres       127.0.0.1/32  trust
hostssl all  tls_user       127.0.0.1/32  trust
host    all  password_user  127.0.0.1/32  scram-sha-256
`;

/** The server's certificate, key and pg_hba.conf where PostgreSQL accepts them: owned by the user it runs as, key 0600. */
function serverFiles(): string {
  const dir = mkdtempSync(join(tmpdir(), "cl-postgres-tls-"));
  copyFileSync(fixture("server.pem"), join(dir, "server.pem"));
  copyFileSync(fixture("server-key.pem"), join(dir, "server-key.pem"));
  writeFileSync(join(dir, "pg_hba.conf"), HBA);
  chmodSync(join(dir, "server-key.pem"), 0o600);
  // As root, startPostgres runs the server as the `postgres` user.
  if (process.getuid?.() === 0) {
    const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
    for (const path of [dir, ...["server.pem", "server-key.pem", "pg_hba.conf"].map((name) => join(dir, name))]) {
      chownSync(path, id("-u"), id("-g"));
    }
  }
  return dir;
}

let service: TestService;
let files: string;
let port: number;

beforeAll(async () => {
  files = serverFiles();
  const started = await startService("postgres", {
    throwaway: true,
    args: [
      ...["-c", "ssl=on", "-c", `ssl_cert_file=${join(files, "server.pem")}`],
      ...["-c", `ssl_key_file=${join(files, "server-key.pem")}`, "-c", `hba_file=${join(files, "pg_hba.conf")}`],
    ],
  });
  if (started === undefined) throw new Error("The TLS and password tests need the PostgreSQL binaries");
  service = started;
  port = Number(new URL(service.url).port);
  const admin = new pg.Client({ connectionString: service.url });
  await admin.connect();
  try {
    await admin.query("CREATE ROLE tls_user LOGIN");
    await admin.query(`CREATE ROLE password_user LOGIN PASSWORD '${PASSWORD.replace(/'/g, "''")}'`);
    await admin.query("GRANT ALL ON SCHEMA public TO tls_user, password_user");
  } finally {
    await admin.end();
  }
});
afterAll(async () => {
  await service?.stop();
  if (files) rmSync(files, { recursive: true, force: true });
});

function layer(options: PostgresChannelLayerOptions): PostgresChannelLayer {
  const made = new PostgresChannelLayer({ prefix: randomPrefix(), poolSize: 2, ...options });
  onTestFinished(() => made.close());
  return made;
}

/** A message each way through the pool and the LISTEN connection: a process-local channel and a named one. */
async function roundTrip(made: PostgresChannelLayer): Promise<void> {
  const local = await made.newChannel();
  for (const channel of [local, "auth-named"]) {
    const waiting = receiveWithin(made, channel, ARRIVAL_MS);
    await made.send(channel, { type: "through", channel });
    expect(await waiting).toEqual({ type: "through", channel });
  }
}

/** Whether each of `user`'s connections (the pool's and the LISTEN one) is encrypted. */
async function encrypted(user: string): Promise<boolean[]> {
  const admin = new pg.Client({ connectionString: service.url });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ ssl: boolean }>(
      "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.usename = $1",
      [user],
    );
    return rows.map((row) => row.ssl);
  } finally {
    await admin.end();
  }
}

const tlsUrl = (query: string) => `postgres://tls_user@127.0.0.1:${port}/postgres?${query}`;
const passwordUrl = (password: string) =>
  `postgres://password_user:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;

describe("TLS (sslmode in the connection string)", () => {
  it("verify-full with the server's CA (sslrootcert) encrypts every connection, LISTEN included", async () => {
    const made = layer({ connectionString: tlsUrl(`sslmode=verify-full&sslrootcert=${encodeURIComponent(CA)}`) });
    await roundTrip(made);
    const connections = await encrypted("tls_user");
    expect(connections.length).toBeGreaterThanOrEqual(2);
    expect(connections.every(Boolean)).toBe(true);
  });

  it("require without a CA is refused: pg verifies the certificate for every sslmode but no-verify", async () => {
    const made = layer({ connectionString: tlsUrl("sslmode=require") });
    const error = (await made.ready().catch((e: unknown) => e)) as Error;
    expect(error).toMatchObject({ code: "BACKEND_UNAVAILABLE" });
    expect(String((error.cause as Error)?.message)).toMatch(/certificate/);
  });

  it("no-verify, or libpq's require (uselibpqcompat=true), encrypts without checking the certificate", async () => {
    for (const query of ["sslmode=no-verify", "uselibpqcompat=true&sslmode=require"]) {
      const made = layer({ connectionString: tlsUrl(query) });
      await roundTrip(made);
      await made.close();
    }
  });

  it("a user pg_hba.conf admits over TLS only is refused without it, saying where and what to check", async () => {
    const made = layer({ connectionString: tlsUrl("sslmode=disable") });
    const error = (await made.ready().catch((e: unknown) => e)) as Error;
    expect(error).toMatchObject({ code: "BACKEND_UNAVAILABLE" });
    expect(error.message).toContain(`127.0.0.1:${port}/postgres`);
    expect(error.message).toContain("pg_hba.conf");
  });

  it("a pool's own ssl settings (a CA given in memory) open the LISTEN connection too", async () => {
    const pool = new pg.Pool({
      host: "127.0.0.1",
      port,
      user: "tls_user",
      database: "postgres",
      ssl: { ca: readFileSync(CA, "utf8") },
      max: 2,
    });
    onTestFinished(() => pool.end());
    const made = layer({ pool });
    await roundTrip(made);
    const admin = new pg.Client({ connectionString: service.url });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ ssl: boolean }>(
        "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = $1",
        [`channel-layers ${made.ownNotifyChannel}`],
      );
      expect(rows).toEqual([{ ssl: true }]);
    } finally {
      await admin.end();
    }
  });
});

describe("password authentication (SCRAM)", () => {
  it("takes the password from the connection string, percent-encoded", async () => {
    await roundTrip(layer({ connectionString: passwordUrl(PASSWORD) }));
  });

  it("refuses a wrong password with BACKEND_UNAVAILABLE, and no password reaches an error or a log line", async () => {
    const lines: string[] = [];
    const logger: Logger = {
      debug: (message, details) => lines.push(message, JSON.stringify(details ?? {})),
      info: (message, details) => lines.push(message, JSON.stringify(details ?? {})),
      warn: (message, details) => lines.push(message, JSON.stringify(details ?? {})),
      error: (message, details) => lines.push(message, JSON.stringify(details ?? {})),
    };
    const wrong = "not-the-password-42";
    const made = layer({ connectionString: passwordUrl(wrong), logger });
    for (const call of [made.ready(), made.send("x", { type: "x" }), made.receive("x")]) {
      const error = (await call.catch((e: unknown) => e)) as Error;
      expect(error).toMatchObject({ code: "BACKEND_UNAVAILABLE" });
      expect(error.message).toContain("postgres://password_user:***@127.0.0.1");
      expect(error.message).toContain("password");
      expect(error.message).not.toContain(wrong);
      expect((error.cause as { code?: string }).code).toBe("28P01");
    }
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join("\n")).not.toContain(wrong);
  });
});
