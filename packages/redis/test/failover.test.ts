import { RedisChannelLayer } from "@channel-layers/redis";
import { portOf, type RedisSentinelService, waitFor } from "@channel-layers/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshPrefix } from "./redis-service.js";
import { startSentinelSet, throwawayRedisMissing } from "./throwaway-servers.js";

// A Sentinel failover under load: one instance sends numbered messages to another's channel while
// the master is killed with SIGKILL; the sentinels promote the replica and the layer follows it.
// What the counts must show is what docs/redis.md promises for a failover.
const missing = throwawayRedisMissing();

interface Outcome {
  n: number;
  /** When the send settled (ms epoch). */
  at: number;
  code?: string;
}

describe.skipIf(missing !== undefined)("a Sentinel failover under load", () => {
  let set: RedisSentinelService | undefined;
  beforeAll(async () => {
    set = await startSentinelSet("failover");
  }, 120_000);
  afterAll(async () => {
    await set?.stop();
  });

  it("follows the new master, loses only sends the old one had not passed on, duplicates nothing", {
    timeout: 120_000,
  }, async () => {
    const sentinels = set as RedisSentinelService;
    const hosts = [{ sentinels: [...sentinels.sentinels], name: "failover" }];
    const prefix = freshPrefix("failover");
    const sender = new RedisChannelLayer({ hosts, prefix, capacity: 100_000 });
    const receiver = new RedisChannelLayer({ hosts, prefix, capacity: 100_000 });
    const channel = await receiver.newChannel();
    const delivered = new Map<number, number>();
    const sent: Outcome[] = [];
    const failed: Outcome[] = [];
    let sending = true;
    let receiving = true;
    const receiveLoop = (async () => {
      while (receiving) {
        try {
          const n = (await receiver.receive(channel, { signal: AbortSignal.timeout(200) })).n as number;
          delivered.set(n, (delivered.get(n) ?? 0) + 1);
        } catch (error) {
          if ((error as Error).name !== "AbortError") throw error;
        }
      }
    })();
    const sendLoop = (async () => {
      for (let n = 0; sending; n++) {
        try {
          await sender.send(channel, { type: "load", n });
          sent.push({ n, at: Date.now() });
        } catch (error) {
          failed.push({ n, at: Date.now(), code: (error as { code?: string }).code });
        }
      }
    })();
    try {
      await waitFor("300 deliveries before the failover", async () => delivered.size >= 300);
      const oldMaster = portOf(sentinels.master.url);
      await sentinels.master.kill("SIGKILL");
      const killedAt = Date.now();
      await waitFor(
        "the sentinels to promote the replica",
        async () => (await sentinels.currentMaster()).port !== oldMaster,
        60_000,
      );
      const promotedAt = Date.now();
      const afterFailover = () => sent.filter((outcome) => outcome.at > promotedAt);
      await waitFor("300 sends accepted by the new master", async () => afterFailover().length >= 300, 60_000);
      sending = false;
      await sendLoop;
      await waitFor("every send accepted after the failover delivered", async () =>
        afterFailover().every((outcome) => delivered.has(outcome.n)),
      );
      receiving = false;
      await receiveLoop;

      const lost = sent.filter((outcome) => !delivered.has(outcome.n));
      const duplicated = [...delivered].filter(([, count]) => count > 1).map(([n]) => n);
      const stats = [sender.stats(), receiver.stats()];
      console.log(
        `failover: sent ${sent.length}, failed ${failed.length}, delivered ${delivered.size}, lost ${lost.length} ` +
          `(${lost.map((outcome) => outcome.at - killedAt).join(", ")} ms after the kill), duplicated ${duplicated.length}, ` +
          `failed yet delivered ${failed.filter((outcome) => delivered.has(outcome.n)).length}, ` +
          `stats ${JSON.stringify(stats.map(({ serverChanges, lostSends, reconnects }) => ({ serverChanges, lostSends, reconnects })))}`,
      );
      expect(duplicated).toEqual([]);
      expect(failed.every((outcome) => outcome.code === "BACKEND_UNAVAILABLE")).toBe(true);
      expect(lost.every((outcome) => outcome.at <= killedAt)).toBe(true);
      for (const each of stats) expect(each.serverChanges).toBeGreaterThanOrEqual(1);
    } finally {
      sending = false;
      receiving = false;
      await Promise.allSettled([sendLoop, receiveLoop]);
      await Promise.all([sender.close(), receiver.close()]);
    }
  });
});
