import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { freePort, startService, type TestService } from "@channel-layers/testing";
import { afterAll, beforeAll, expect, it } from "vitest";

// rediss:// and tls:// over real TLS servers (throwaway redis-server and nats-server with the test
// certificate). The URL carries no CA, as in production: the child process trusts the test CA
// through NODE_EXTRA_CA_CERTS, and without it the same URLs must fail (the certificate is checked).
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const CA = here("./fixtures/tls/ca.pem");
const CERT = here("./fixtures/tls/server.pem");
const KEY = here("./fixtures/tls/server-key.pem");
const run = promisify(execFile);

const services: TestService[] = [];
let urls: string[] = [];
beforeAll(async () => {
  const tlsPort = await freePort();
  const redis = await startService("redis", {
    throwaway: true,
    args: [
      ...["--tls-port", String(tlsPort), "--tls-cert-file", CERT, "--tls-key-file", KEY],
      ...["--tls-ca-cert-file", CA, "--tls-auth-clients", "no"],
    ],
  });
  if (redis === undefined) throw new Error("The TLS test needs the redis-server binary");
  services.push(redis);
  const nats = await startService("nats", { throwaway: true, args: ["--tls", "--tlscert", CERT, "--tlskey", KEY] });
  if (nats === undefined) throw new Error("The TLS test needs the nats-server binary");
  services.push(nats);
  urls = [
    `rediss://127.0.0.1:${tlsPort}/0?prefix=tls`,
    `${nats.url.replace("nats://", "tls://")}?prefix=tls&requestTimeoutMs=3000`,
  ];
});
afterAll(async () => {
  await Promise.all(services.map((service) => service.stop()));
});

async function roundTrips(env: Record<string, string>): Promise<{ url: string; ok: boolean; code?: string }[]> {
  const { stdout } = await run(
    process.execPath,
    ["--conditions=source", "--import", "tsx", here("./fixtures/settings-roundtrip.ts"), ...urls],
    { cwd: here(".."), env: { ...process.env, ...env }, timeout: 60_000 },
  );
  return stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line));
}

it("rediss:// and tls:// connect over TLS and check the server's certificate", async () => {
  expect(await roundTrips({ NODE_EXTRA_CA_CERTS: CA })).toEqual(urls.map((url) => ({ url, ok: true })));
  const untrusted = await roundTrips({});
  expect(untrusted.map((result) => [result.ok, result.code])).toEqual([
    [false, "BACKEND_UNAVAILABLE"],
    [false, "BACKEND_UNAVAILABLE"],
  ]);
});
