import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { RedisChannelLayer } from "@channel-layers/redis";
import { startService, type TestService, waitFor } from "@channel-layers/testing";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshPrefix } from "./redis-service.js";

// A named channel is shared by worker processes, so nothing is popped before a receive waits
// for it: a worker killed while it waits takes no message with it, and the next one gets them.
// A throwaway Redis, so that CLIENT LIST shows only this test's connections.
const CHILD = fileURLToPath(new URL("./receiver-child.ts", import.meta.url));

describe("a receiving process that dies", () => {
  let redis: TestService | undefined;
  beforeAll(async () => {
    redis = await startService("redis", { throwaway: true });
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it("takes no message of a named channel with it", { timeout: 30_000 }, async ({ skip }) => {
    if (!redis) skip();
    const url = (redis as TestService).url;
    const prefix = freshPrefix("death");
    const admin = new Redis(url);
    const blockedPops = async () =>
      String(await admin.client("LIST"))
        .split("\n")
        .filter((line: string) => line.includes("cmd=bzmpop")).length;
    const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", CHILD, url, prefix, "jobs"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let sender: RedisChannelLayer | undefined;
    let survivor: RedisChannelLayer | undefined;
    try {
      await waitFor("the child's receive blocking in Redis", async () => (await blockedPops()) === 1);
      child.kill("SIGKILL");
      await once(child, "exit");
      await waitFor("Redis to drop the dead process's blocked pop", async () => (await blockedPops()) === 0);
      sender = new RedisChannelLayer({ hosts: [url], prefix });
      survivor = new RedisChannelLayer({ hosts: [url], prefix });
      for (let n = 0; n < 5; n++) await sender.send("jobs", { type: "job", n });
      const got: unknown[] = [];
      for (let n = 0; n < 5; n++) got.push((await survivor.receive("jobs", { signal: AbortSignal.timeout(5000) })).n);
      expect(got).toEqual([0, 1, 2, 3, 4]);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await Promise.all([sender?.close(), survivor?.close()]);
      admin.disconnect();
    }
  });
});
