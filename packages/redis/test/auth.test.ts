import { readFileSync } from "node:fs";
import type { LogDetails, Logger } from "@channel-layers/core";
import { RedisChannelLayer, type RedisHost } from "@channel-layers/redis";
import { freePort, portOf, type TestService } from "@channel-layers/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshPrefix } from "./redis-service.js";
import { startLocalRedis, throwawayRedisMissing } from "./throwaway-servers.js";

// Authentication and TLS against throwaway servers started with each setting: a password
// (requirepass), an ACL user, and TLS with the test CA in fixtures/tls. Whatever goes wrong, the
// password shows neither in errors nor in the log.
const missing = throwawayRedisMissing();
const fixture = (name: string) => readFileSync(new URL(`./fixtures/tls/${name}`, import.meta.url));
const fixturePath = (name: string) => new URL(`./fixtures/tls/${name}`, import.meta.url).pathname;

/** A logger that keeps every line, to check what the layer logs. */
function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const record = (message: string, details?: LogDetails) => {
    lines.push(`${message} ${JSON.stringify(details ?? {})}`);
  };
  return { lines, debug: record, info: record, warn: record, error: record };
}

/** Two instances on `hosts` exchange a send and a groupSend. */
async function exchange(hosts: RedisHost[]): Promise<void> {
  const prefix = freshPrefix("auth");
  const [a, b] = [new RedisChannelLayer({ hosts, prefix }), new RedisChannelLayer({ hosts, prefix })];
  try {
    const channel = await b.newChannel();
    await a.groupAdd("auth-room", channel);
    await a.send(channel, { type: "direct" });
    await a.groupSend("auth-room", { type: "group" });
    expect(await b.receive(channel, { signal: AbortSignal.timeout(5000) })).toEqual({ type: "direct" });
    expect(await b.receive(channel, { signal: AbortSignal.timeout(5000) })).toEqual({ type: "group" });
    await a.flush();
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

/** The error the first call on a layer for `hosts` rejects with, and what the layer logged. */
async function refusal(hosts: RedisHost[]): Promise<{ error: Error & { code?: string }; logged: string }> {
  const logger = recordingLogger();
  const layer = new RedisChannelLayer({ hosts, prefix: freshPrefix("refused"), logger });
  try {
    const error = await layer.send("auth-named", { type: "x" }).then(
      () => {
        throw new Error("the send should have been refused");
      },
      (reason: Error & { code?: string }) => reason,
    );
    return { error, logged: logger.lines.join("\n") };
  } finally {
    await layer.close();
  }
}

describe.skipIf(missing !== undefined)("Redis with a password (requirepass)", () => {
  const password = "pw-requirepass-7f3a";
  let server: TestService | undefined;
  let port = 0;
  beforeAll(async () => {
    server = await startLocalRedis(["--requirepass", password]);
    port = portOf(server.url);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("works with the password in the URL or in ioredis options", async () => {
    await exchange([`redis://:${password}@127.0.0.1:${port}`]);
    await exchange([{ host: "127.0.0.1", port, password }]);
  });

  it("refuses a wrong or missing password with BACKEND_UNAVAILABLE, naming the server without the password", async () => {
    const wrong = "pw-wrong-91c2";
    const { error, logged } = await refusal([`redis://:${wrong}@127.0.0.1:${port}`]);
    expect(error).toMatchObject({ code: "BACKEND_UNAVAILABLE" });
    expect(error.cause).toBeDefined();
    expect(error.message).toMatch(/WRONGPASS|invalid/i);
    expect(error.message).toContain(`redis://:***@127.0.0.1:${port}`);
    expect(`${error.message}\n${logged}`).not.toContain(wrong);
    expect(logged).toContain("***");
    const anonymous = await refusal([`redis://127.0.0.1:${port}`]);
    expect(anonymous.error).toMatchObject({ code: "BACKEND_UNAVAILABLE" });
    expect(anonymous.error.message).toMatch(/NOAUTH|authentication/i);
  });
});

describe.skipIf(missing !== undefined)("Redis with an ACL user", () => {
  const password = "pw-acl-alice-52be";
  let server: TestService | undefined;
  let port = 0;
  beforeAll(async () => {
    server = await startLocalRedis(["--user", "alice", "on", `>${password}`, "~*", "&*", "+@all"]);
    port = portOf(server.url);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("works as that user, from a URL or ioredis options", async () => {
    await exchange([`redis://alice:${password}@127.0.0.1:${port}`]);
    await exchange([{ host: "127.0.0.1", port, username: "alice", password }]);
  });

  it("refuses a wrong password for the user without showing it", async () => {
    const wrong = "pw-acl-wrong-0d44";
    const { error, logged } = await refusal([`redis://alice:${wrong}@127.0.0.1:${port}`]);
    expect(error).toMatchObject({ code: "BACKEND_UNAVAILABLE" });
    expect(error.message).toContain(`redis://alice:***@127.0.0.1:${port}`);
    expect(`${error.message}\n${logged}`).not.toContain(wrong);
  });
});

describe.skipIf(missing !== undefined)("Redis over TLS (rediss://)", () => {
  const password = "pw-tls-c81e";
  let server: TestService | undefined;
  let tlsPort = 0;
  beforeAll(async () => {
    tlsPort = await freePort();
    server = await startLocalRedis([
      "--tls-port",
      String(tlsPort),
      "--tls-cert-file",
      fixturePath("server.pem"),
      "--tls-key-file",
      fixturePath("server-key.pem"),
      "--tls-ca-cert-file",
      fixturePath("ca.pem"),
      "--tls-auth-clients",
      "no",
      "--requirepass",
      password,
    ]);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("works with the server's CA in ioredis `tls` options, and a password", async () => {
    await exchange([{ host: "127.0.0.1", port: tlsPort, tls: { ca: fixture("ca.pem") }, password }]);
  });

  it("verifies the certificate of a rediss:// URL: one from an unknown CA is refused", async () => {
    const { error, logged } = await refusal([`rediss://:${password}@127.0.0.1:${tlsPort}`]);
    expect(error).toMatchObject({ code: "BACKEND_UNAVAILABLE" });
    expect(error.message).toMatch(/certificate/i);
    expect(error.message).toContain(`rediss://:***@127.0.0.1:${tlsPort}`);
    expect(`${error.message}\n${logged}`).not.toContain(password);
  });

  it("does not speak plain Redis to the TLS port", async () => {
    const { error } = await refusal([{ host: "127.0.0.1", port: tlsPort, password, connectTimeout: 2000 }]);
    expect(error).toMatchObject({ code: "BACKEND_UNAVAILABLE" });
  });
});
