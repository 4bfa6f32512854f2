import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect } from "vitest";
import { hasLocalBinary, portAnswers, portOf } from "../src/index.js";
import { test } from "../src/vitest.js";
import { roundTrip } from "./round-trip.js";

// The fixtures, used here as a user's test file uses them; then the global setup and the skip
// path, in a nested vitest run of test/fixtures/consumer.
test("the redis, postgres and nats fixtures give a working server", async ({ redis, postgres, nats }) => {
  expect(await roundTrip.redis(redis.url)).toBe("redis-ok");
  expect(await roundTrip.postgres(postgres.url)).toBe("postgres-ok");
  expect(await roundTrip.nats(nats.url)).toBe("nats-ok");
});

test("a throwaway server may be killed and restarted", { timeout: 60_000 }, async ({ throwawayPostgres }) => {
  expect(throwawayPostgres.source).not.toBe("env");
  await throwawayPostgres.kill();
  await expect(roundTrip.postgres(throwawayPostgres.url)).rejects.toThrow();
  await throwawayPostgres.restart();
  expect(await roundTrip.postgres(throwawayPostgres.url)).toBe("postgres-ok");
});

const vitestBin = join(dirname(createRequire(import.meta.url).resolve("vitest/package.json")), "vitest.mjs");
const consumerConfig = fileURLToPath(new URL("./fixtures/consumer/vitest.config.ts", import.meta.url));

interface NestedRun {
  exitCode: number;
  states: string[];
  output: string;
}

/** Runs the consumer fixture's tests in a vitest of their own, with `env` on top of ours. */
function runConsumer(env: Record<string, string | undefined>): Promise<NestedRun> {
  const dir = mkdtempSync(join(tmpdir(), "channel-layers-nested-"));
  const report = join(dir, "report.json");
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const key of ["REDIS_URL", "DATABASE_URL", "NATS_URL", "CI", "REQUIRE_SERVICES", "VITEST", "VITEST_POOL_ID"]) {
    delete childEnv[key];
  }
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete childEnv[key];
    else childEnv[key] = value;
  }
  const args = [vitestBin, "run", "--config", consumerConfig, "--reporter=json", `--outputFile=${report}`];
  return new Promise((resolve) => {
    execFile(process.execPath, args, { env: childEnv, timeout: 180_000 }, (error, stdout, stderr) => {
      let states: string[] = [];
      try {
        const results = JSON.parse(readFileSync(report, "utf8")) as {
          testResults: Array<{ assertionResults: Array<{ status: string }> }>;
        };
        states = results.testResults.flatMap((file) => file.assertionResults.map((result) => result.status));
      } catch {
        // No report: the run failed before any test (the output says why).
      }
      rmSync(dir, { recursive: true, force: true });
      const code = error ? Number((error as { code?: number }).code ?? 1) : 0;
      resolve({ exitCode: code, states, output: `${stdout}\n${stderr}` });
    });
  });
}

const localServers = process.env.CHANNEL_LAYERS_LOCAL_SERVERS !== "0";

describe("in a user's vitest run", () => {
  test.runIf(hasLocalBinary("redis") && hasLocalBinary("nats") && localServers)(
    "the global setup starts one Redis for the run, every file sees it, and it is stopped after",
    { timeout: 200_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "channel-layers-url-"));
      const urlFile = join(dir, "url");
      try {
        const run = await runConsumer({ CHANNEL_LAYERS_SERVICES: "redis", REPORT_URL_TO: urlFile });
        expect(run.states, run.output).toEqual(["passed", "passed"]);
        expect(run.exitCode).toBe(0);
        const url = readFileSync(urlFile, "utf8");
        expect(url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
        expect(await portAnswers(portOf(url))).toBe(false);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  test("without any server the tests are skipped, and under CI=true the run fails", { timeout: 200_000 }, async () => {
    const none = {
      CHANNEL_LAYERS_LOCAL_SERVERS: "0",
      CHANNEL_LAYERS_CONTAINERS: "0",
      CHANNEL_LAYERS_SERVICES: "redis",
    };
    const skipped = await runConsumer(none);
    expect(skipped.states, skipped.output).toEqual(["skipped", "skipped"]);
    expect(skipped.exitCode).toBe(0);
    const failed = await runConsumer({ ...none, CI: "true" });
    expect(failed.exitCode).not.toBe(0);
    expect(failed.output).toMatch(/REDIS_URL/);
  });
});
