import { randomBytes } from "node:crypto";
import { copyMessage, MessageSerializer } from "@channel-layers/core/backend";
import { RedisChannelLayer } from "@channel-layers/redis";
import type { TestService } from "@channel-layers/testing";
import { Redis } from "ioredis";
import { GROUP_ADD, GROUP_SEND, RESERVE } from "../../packages/redis/src/scripts.js";
import { NO_REDIS, startBenchRedis } from "../src/bench-redis.js";
import { type BenchCase, type BenchSuite, type Measurement, measure, OURS, warmBest } from "../src/harness.js";
import { pythonUnavailable, runPythonCase } from "../src/python.js";
import { redisTargets } from "../src/redis-targets.js";

/**
 * Issue 14's layer-alone cases: one RedisChannelLayer instance holding everything, awaited one
 * call at a time, beside channels_redis 4 doing the same (bench/python/channels_redis_layer_alone.py)
 * and raw ioredis sending the Redis commands the layer sends for it, by hand:
 * - fan-out-100-local: 100 members of one group on the instance; each groupSend is followed by a
 *   receive on every member in turn, measured once the instance has done as much work unmeasured
 *   (channels_redis's too, in its script), as a running server's has. Raw: the group-send script (which returns the sender's own
 *   members, or only their digest), a decode and a copy per member.
 * - ping-pong: send to its own channel, receive, one message at a time. Raw: nothing reaches Redis
 *   once the channel holds reservations, so there is no raw twin.
 * - bulk-loop: a plain loop of awaited sends to one channel, then a plain loop of receives. Raw: one
 *   reservation script per 256 sends (the headroom at this capacity), an encode and a decode each.
 */
const message = (n: number) => ({ type: "bench.message", text: "hello", n });
const EXPIRY_MS = 60_000;
const DAY_MS = 86_400_000;
const RUNS = 3;

let service: TestService | undefined;
const url = () => service?.url as string;
const newPrefix = () => `bench-${randomBytes(4).toString("hex")}:`;
const seconds = (ms: number) => (ms / 1000).toFixed(6);
const serializer = new MessageSerializer();

async function fanOutLocal(sends: number, members: number): Promise<number> {
  const layer = new RedisChannelLayer({ hosts: [url()], prefix: newPrefix() });
  const channels: string[] = [];
  for (let i = 0; i < members; i++) channels.push(await layer.newChannel());
  for (const channel of channels) await layer.groupAdd("bench", channel);
  const rounds = async () => {
    for (let n = 0; n < sends; n++) {
      await layer.groupSend("bench", message(n));
      for (const channel of channels) await layer.receive(channel);
    }
    return sends * members;
  };
  // As a server process would be: the same instance has done this work before (its reservations
  // for its own channels have grown to the traffic), and so has channels_redis's in its script.
  await rounds();
  const measured = await measure(rounds);
  await layer.flush();
  await layer.close();
  return measured.seconds;
}

async function rawFanOutLocal(sends: number, members: number): Promise<number> {
  const prefix = newPrefix();
  const client = new Redis(url());
  const group = `${prefix}:group:bench`;
  const tag = ".0123456789abcdef!";
  for (let m = 0; m < members; m++) {
    await GROUP_ADD.run(
      client,
      [group],
      [seconds(Date.now()), DAY_MS, `specific${tag}${randomBytes(12).toString("hex")}`],
    );
  }
  let digest = "";
  let own: string[] = [];
  const measured = await measure(async () => {
    for (let n = 0; n < sends; n++) {
      const now = Date.now();
      const body = serializer.encode(message(n));
      const args = [prefix, seconds(now), seconds(now - DAY_MS), seconds(now - EXPIRY_MS), "0", EXPIRY_MS, 100];
      const reply = (await GROUP_SEND.run(client, [group], [...args, randomBytes(8), body, tag, digest])) as [
        number,
        Buffer,
        ...Buffer[],
      ];
      digest = reply[1].toString();
      if (reply.length > 2) own = reply.slice(2).map((channel) => channel.toString());
      const first = serializer.decode(body);
      for (let i = 1; i < own.length; i++) copyMessage(first);
    }
    return sends * members;
  });
  await client.del(group);
  client.disconnect();
  return measured.seconds;
}

async function pingPong(count: number): Promise<number> {
  const layer = new RedisChannelLayer({ hosts: [url()], prefix: newPrefix() });
  const channel = await layer.newChannel();
  const measured = await measure(async () => {
    for (let n = 0; n < count; n++) {
      await layer.send(channel, message(n));
      await layer.receive(channel);
    }
    return count;
  });
  await layer.flush();
  await layer.close();
  return measured.seconds;
}

async function bulkLoop(count: number): Promise<number> {
  const layer = new RedisChannelLayer({ hosts: [url()], prefix: newPrefix(), capacity: count + 1 });
  const channel = await layer.newChannel();
  const measured = await measure(async () => {
    for (let n = 0; n < count; n++) await layer.send(channel, message(n));
    for (let n = 0; n < count; n++) await layer.receive(channel);
    return count;
  });
  await layer.flush();
  await layer.close();
  return measured.seconds;
}

async function rawBulkLoop(count: number): Promise<number> {
  const client = new Redis(url());
  const held = `${newPrefix()}specific.x!$held`;
  const measured = await measure(async () => {
    const bodies: Buffer[] = [];
    for (let n = 0; n < count; n++) {
      if (n % 256 === 0) await RESERVE.run(client, [held], ["0", EXPIRY_MS, 1, "y", count + 1, n + 256]);
      bodies.push(serializer.encode(message(n)));
    }
    for (const body of bodies) serializer.decode(body);
    return count;
  });
  await client.del(held);
  client.disconnect();
  return measured.seconds;
}

const suite: BenchSuite = {
  name: "redis-layer-alone",
  async unavailable() {
    service = await startBenchRedis();
    return service ? undefined : NO_REDIS;
  },
  cases({ quick }) {
    const scale = quick ? 0.1 : 1;
    const fanSends = Math.round(200 * scale);
    const pingCount = Math.round(20_000 * scale);
    const bulkCount = Math.round(10_000 * scale);
    const python = async (args: string[]) => {
      const reason = await pythonUnavailable("channels_redis.core");
      if (reason) throw new Error(reason);
      let fastest: Measurement | undefined;
      for (let i = 0; i < RUNS; i++) {
        const run = await runPythonCase("channels_redis_layer_alone.py", [url(), ...args]);
        if (!fastest || run.seconds / run.operations < fastest.seconds / fastest.operations) fastest = run;
      }
      return fastest as Measurement;
    };
    const cases: BenchCase[] = [
      {
        scenario: "fan-out-100-local",
        subject: OURS,
        run: () => warmBest(fanSends * 100, () => fanOutLocal(fanSends, 100)),
      },
      {
        scenario: "fan-out-100-local",
        subject: "channels_redis",
        run: () => python(["fan-out-local", String(fanSends), "100"]),
      },
      {
        scenario: "fan-out-100-local",
        subject: "raw ioredis",
        run: () => warmBest(fanSends * 100, () => rawFanOutLocal(fanSends, 100)),
      },
      { scenario: "ping-pong", subject: OURS, run: () => warmBest(pingCount, () => pingPong(pingCount)) },
      {
        scenario: "ping-pong",
        subject: "channels_redis",
        run: () => python(["ping-pong", String(Math.round(pingCount / 10))]),
      },
      { scenario: "bulk-loop", subject: OURS, run: () => warmBest(bulkCount, () => bulkLoop(bulkCount)) },
      {
        scenario: "bulk-loop",
        subject: "channels_redis",
        run: () => python(["bulk-loop", String(Math.round(bulkCount / 5))]),
      },
      { scenario: "bulk-loop", subject: "raw ioredis", run: () => warmBest(bulkCount, () => rawBulkLoop(bulkCount)) },
    ];
    return cases;
  },
  async teardown() {
    await service?.stop();
  },
  summarize: redisTargets,
};

export default suite;
