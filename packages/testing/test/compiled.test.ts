import { execFile } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasLocalBinary } from "../src/index.js";

// The package as users get it: compiled by tsc, imported by plain Node (no vitest, no tsx), its
// declarations checked by tsc --strict without skipLibCheck.
const run = promisify(execFile);
const packageDir = fileURLToPath(new URL("..", import.meta.url));
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
// Inside the package, so the compiled code finds its optional peer testcontainers as an installed copy would.
const outDir = join(packageDir, "node_modules", ".cache", `compiled-${process.pid}-${Date.now()}`);

beforeAll(async () => {
  await run(process.execPath, [tsc, "-p", join(packageDir, "tsconfig.json"), "--outDir", join(outDir, "dist")]);
}, 120_000);
afterAll(() => {
  rmSync(outDir, { recursive: true, force: true });
});

describe("the compiled package", () => {
  it.runIf(hasLocalBinary("redis") && process.env.CHANNEL_LAYERS_LOCAL_SERVERS !== "0")(
    "starts, kills, restarts and stops a Redis from plain Node",
    { timeout: 60_000 },
    async () => {
      const entry = pathToFileURL(join(outDir, "dist", "index.js")).href;
      const script = `
        const t = await import(${JSON.stringify(entry)});
        const r = await t.startRedis({ throwaway: true });
        const port = Number(new URL(r.url).port);
        const set = await t.redisCommand(port, ["SET", "k", "v"]);
        await r.kill();
        const answersAfterKill = await t.portAnswers(port);
        await r.restart();
        const afterRestart = await t.redisCommand(port, ["GET", "k"]);
        await r.stop();
        console.log(JSON.stringify({ source: r.source, set, answersAfterKill, afterRestart, answersAfterStop: await t.portAnswers(port) }));
      `;
      const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], {
        env: { ...process.env, CHANNEL_LAYERS_CONTAINERS: "0" },
      });
      expect(JSON.parse(stdout)).toEqual({
        source: "local",
        set: "OK",
        answersAfterKill: false,
        afterRestart: null,
        answersAfterStop: false,
      });
    },
  );

  it("type-checks a user's code under tsc --strict without skipLibCheck", { timeout: 120_000 }, async () => {
    const consumer = join(outDir, "consumer");
    mkdirSync(consumer, { recursive: true });
    writeFileSync(
      join(consumer, "use.ts"),
      [
        'import { startNats, startPostgres, startRedis, type TestService } from "../dist/index.js";',
        "const services: Array<TestService | undefined> = [await startRedis(), await startPostgres(), await startNats({ jetstream: true })];",
        "for (const service of services) await service?.kill('SIGKILL');",
        "export {};",
      ].join("\n"),
    );
    const options = ["--strict", "--noEmit", "--skipLibCheck", "false", "--module", "nodenext", "--target", "es2022"];
    await run(process.execPath, [tsc, ...options, "--types", "node", join(consumer, "use.ts")]);
  });
});
