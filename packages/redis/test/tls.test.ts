import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RedisChannelLayer } from "@channel-layers/redis";
import { freePort, type TestService } from "@channel-layers/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshPrefix } from "./redis-service.js";
import { startLocalRedis, throwawayRedisMissing } from "./throwaway-servers.js";

// TLS is ioredis': a rediss:// URL or `tls` options pass straight through. A throwaway
// redis-server with a self-signed certificate for 127.0.0.1 shows both paths.
const missing = throwawayRedisMissing();
let opensslMissing = false;
try {
  execFileSync("openssl", ["version"], { stdio: "ignore" });
} catch {
  opensslMissing = true;
}

describe.skipIf(missing !== undefined || opensslMissing)("Redis over TLS", () => {
  let server: TestService | undefined;
  let dir = "";
  let tlsPort = 0;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "channel-layers-tls-"));
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"]
        .concat(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .concat(["-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")]),
      { stdio: "ignore" },
    );
    tlsPort = await freePort();
    server = await startLocalRedis([
      "--tls-port",
      String(tlsPort),
      "--tls-cert-file",
      join(dir, "cert.pem"),
      "--tls-key-file",
      join(dir, "key.pem"),
      "--tls-ca-cert-file",
      join(dir, "cert.pem"),
      "--tls-auth-clients",
      "no",
    ]);
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("works over TLS with ioredis `tls` options", async () => {
    const ca = readFileSync(join(dir, "cert.pem"));
    const hosts = [{ host: "127.0.0.1", port: tlsPort, tls: { ca } }];
    const prefix = freshPrefix("tls");
    const [a, b] = [new RedisChannelLayer({ hosts, prefix }), new RedisChannelLayer({ hosts, prefix })];
    try {
      const channel = await b.newChannel();
      await a.send(channel, { type: "over.tls" });
      expect(await b.receive(channel, { signal: AbortSignal.timeout(5000) })).toEqual({ type: "over.tls" });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("speaks TLS for a rediss:// URL (here refusing the self-signed certificate)", async () => {
    const layer = new RedisChannelLayer({ hosts: [`rediss://127.0.0.1:${tlsPort}`], prefix: freshPrefix("tls-url") });
    try {
      const error = await layer.send("tls-named", { type: "x" }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "BACKEND_UNAVAILABLE" });
      expect(String((error as Error).message)).toMatch(/certificate/i);
    } finally {
      await layer.close();
    }
  });
});
