import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "@channel-layers/core";
import { receiveWithin } from "@channel-layers/core/conformance";
import { NatsChannelLayer, type NatsChannelLayerOptions } from "@channel-layers/nats";
import { type StartNatsOptions, startNats, type TestService } from "@channel-layers/testing";
import { encodeAccount, encodeOperator, encodeUser, fmtCreds } from "@nats-io/jwt";
import { createAccount, createOperator, createUser } from "@nats-io/nkeys";
import { credsAuthenticator, nkeyAuthenticator } from "@nats-io/transport-node";
import { describe, expect, it, onTestFinished } from "vitest";
import { randomPrefix } from "./nats-server.js";

// Each way to log in, against a throwaway nats-server started with that setting.
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/tls/${name}`, import.meta.url));
const CA = fixture("ca.pem");

/** A throwaway nats-server (JetStream on) with `args`, stopped when the test ends; a config file goes in a temp dir. */
async function serverWith(options: { args?: string[]; config?: string }): Promise<TestService> {
  const args = [...(options.args ?? [])];
  if (options.config !== undefined) {
    const dir = mkdtempSync(join(tmpdir(), "nats-auth-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, "auth.conf"), options.config);
    args.push("-c", join(dir, "auth.conf"));
  }
  const start: StartNatsOptions = { throwaway: true, args, required: true };
  const service = (await startNats(start)) as TestService;
  onTestFinished(() => service.stop());
  return service;
}

/** Every line the layer logs, with its details, as text: a secret must never be in it. */
function recordingLogger(): { logger: Logger; text(): string } {
  const lines: string[] = [];
  const record = (message: string, details?: Record<string, unknown>) => {
    lines.push(
      `${message} ${JSON.stringify(details ?? {}, (_key, value) => (value instanceof Error ? value.message : value))}`,
    );
  };
  return { logger: { debug: record, info: record, warn: record, error: record }, text: () => lines.join("\n") };
}

/** A layer that must work: a process-local channel, a named one through JetStream, and a group of both. */
async function expectWorking(options: NatsChannelLayerOptions): Promise<void> {
  const layer = new NatsChannelLayer({ prefix: randomPrefix("auth"), requestTimeoutMs: 5000, ...options });
  try {
    const channel = await layer.newChannel();
    await layer.send(channel, { type: "local" });
    expect(await receiveWithin(layer, channel, 5000)).toEqual({ type: "local" });
    await layer.send("auth-jobs", { type: "named" });
    expect(await receiveWithin(layer, "auth-jobs", 5000)).toEqual({ type: "named" });
    await layer.groupAdd("auth-group", channel);
    await layer.groupAdd("auth-group", "auth-jobs");
    await layer.groupSend("auth-group", { type: "group" });
    expect(await receiveWithin(layer, channel, 5000)).toEqual({ type: "group" });
    expect(await receiveWithin(layer, "auth-jobs", 5000)).toEqual({ type: "group" });
    await layer.flush();
  } finally {
    await layer.close();
  }
}

/** A layer the server must refuse: BACKEND_UNAVAILABLE, with none of `secrets` in the error or the log. */
async function expectRefused(options: NatsChannelLayerOptions, secrets: string[]): Promise<void> {
  const { logger, text } = recordingLogger();
  const layer = new NatsChannelLayer({ prefix: randomPrefix("auth"), requestTimeoutMs: 5000, ...options, logger });
  try {
    const error = (await layer.newChannel().then(
      () => new Error("newChannel resolved"),
      (e: unknown) => e,
    )) as Error;
    expect(error).toMatchObject({ code: "BACKEND_UNAVAILABLE" });
    const shown = `${error.message}\n${String((error.cause as Error | undefined)?.message)}\n${text()}`;
    expect(text(), "the failed open is logged").toMatch(/Could not connect to NATS/);
    for (const secret of secrets) expect(shown).not.toContain(secret);
  } finally {
    await layer.close();
  }
}

describe("logging in to NATS", () => {
  it("with a user and password, in the URL (percent-encoded) or in connectOptions", async () => {
    const password = "p@ss:w/rd";
    const server = await serverWith({ args: ["--user", "web", "--pass", password] });
    const inUrl = server.url.replace("nats://", `nats://web:${encodeURIComponent(password)}@`);
    await expectWorking({ servers: inUrl });
    await expectWorking({ servers: server.url, connectOptions: { user: "web", pass: password } });
    await expectRefused({ servers: server.url.replace("nats://", "nats://web:wr0ng-secret@") }, ["wr0ng-secret"]);
    await expectRefused({ servers: server.url }, []);
  });

  it("with permissions limited to what docs/nats.md lists for one prefix", async () => {
    const allowed = {
      publish: ["perms.>", "$JS.API.>", "$JS.ACK.>", "_INBOX.>"],
      subscribe: ["perms.>", "_INBOX.>"],
    };
    const user = (name: string, permissions: object) =>
      `{ user: ${name}, password: secret, permissions: ${JSON.stringify(permissions)} }`;
    const server = await serverWith({ config: `authorization { users = [ ${user("web", allowed)} ] }\n` });
    await expectWorking({ servers: server.url, prefix: "perms", connectOptions: { user: "web", pass: "secret" } });
  });

  it("with a token, in the URL or in connectOptions", async () => {
    const server = await serverWith({ args: ["--auth", "t0ken-secret"] });
    await expectWorking({ servers: server.url.replace("nats://", "nats://t0ken-secret@") });
    await expectWorking({ servers: server.url, connectOptions: { token: "t0ken-secret" } });
    await expectRefused({ servers: server.url.replace("nats://", "nats://n0t-the-t0ken@") }, ["n0t-the-t0ken"]);
  });

  it("with an nkey", async () => {
    const user = createUser();
    const server = await serverWith({ config: `authorization { users = [ { nkey: "${user.getPublicKey()}" } ] }\n` });
    await expectWorking({ servers: server.url, connectOptions: { authenticator: nkeyAuthenticator(user.getSeed()) } });
    const stranger = createUser();
    await expectRefused(
      { servers: server.url, connectOptions: { authenticator: nkeyAuthenticator(stranger.getSeed()) } },
      [new TextDecoder().decode(stranger.getSeed())],
    );
  });

  it("with a creds file (a user JWT and its nkey seed, for a server in operator mode)", async () => {
    const [operator, system, account, user] = [createOperator(), createAccount(), createAccount(), createUser()];
    // An account's limits replace the defaults whole: everything unlimited, JetStream on.
    const limits = { subs: -1, data: -1, payload: -1, conn: -1, leaf: -1, imports: -1, exports: -1, wildcards: true };
    const jetstream = { ...limits, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 };
    const preload = {
      [system.getPublicKey()]: await encodeAccount("SYS", system, {}, { signer: operator }),
      [account.getPublicKey()]: await encodeAccount("app", account, { limits: jetstream }, { signer: operator }),
    };
    const server = await serverWith({
      config: [
        `operator: ${await encodeOperator("test", operator, { system_account: system.getPublicKey() })}`,
        `system_account: ${system.getPublicKey()}`,
        "resolver: MEMORY",
        `resolver_preload: ${JSON.stringify(preload)}`,
        "",
      ].join("\n"),
    });
    const dir = mkdtempSync(join(tmpdir(), "nats-creds-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const credsFile = join(dir, "web.creds");
    writeFileSync(credsFile, fmtCreds(await encodeUser("web", user, account), user), { mode: 0o600 });
    // As an application would: read the file, hand its bytes to nats.js.
    await expectWorking({
      servers: server.url,
      connectOptions: { authenticator: credsAuthenticator(readFileSync(credsFile)) },
    });
    const outsider = createUser();
    const otherAccount = createAccount();
    const foreign = fmtCreds(await encodeUser("outsider", outsider, otherAccount), outsider);
    await expectRefused({ servers: server.url, connectOptions: { authenticator: credsAuthenticator(foreign) } }, [
      new TextDecoder().decode(outsider.getSeed()),
    ]);
  });

  it("over TLS, checking the server's certificate against a CA", async () => {
    const server = await serverWith({
      args: ["--tls", "--tlscert", fixture("server.pem"), "--tlskey", fixture("server-key.pem")],
    });
    const tlsUrl = server.url.replace("nats://", "tls://");
    await expectWorking({ servers: tlsUrl, connectOptions: { tls: { caFile: CA } } });
    await expectWorking({ servers: server.url, connectOptions: { tls: { caFile: CA } } });
    // The same server, but its certificate's CA is not trusted: refused.
    await expectRefused({ servers: tlsUrl, connectOptions: { tls: {} } }, []);
  });

  it("over mutual TLS, with a client certificate", async () => {
    const server = await serverWith({
      config: [
        "tls {",
        `  cert_file: ${JSON.stringify(fixture("server.pem"))}`,
        `  key_file: ${JSON.stringify(fixture("server-key.pem"))}`,
        `  ca_file: ${JSON.stringify(fixture("client-ca.pem"))}`,
        "  verify: true",
        "}",
        "",
      ].join("\n"),
    });
    const client = { caFile: CA, certFile: fixture("client.pem"), keyFile: fixture("client-key.pem") };
    await expectWorking({ servers: server.url, connectOptions: { tls: client } });
    // Without a client certificate the TLS handshake fails, which nats.js reports at its connect timeout.
    await expectRefused({ servers: server.url, connectOptions: { tls: { caFile: CA }, timeout: 2000 } }, []);
  });
});
