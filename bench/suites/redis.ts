import { randomBytes } from "node:crypto";
import { MessageSerializer } from "@channel-layers/core";
import { type Service, startService } from "@channel-layers/integration";
import { RedisChannelLayer } from "@channel-layers/redis";
import { Redis } from "ioredis";
import { ACK, SEND } from "../../packages/redis/src/scripts.js";
import { type BenchCase, type BenchSuite, measure, OURS } from "../src/harness.js";
import { pythonUnavailable, runPythonCase } from "../src/python.js";

/**
 * RedisChannelLayer beside channels_redis 4 (the Python peer, same Redis, same run) and beside
 * raw ioredis sending the same Redis commands our layer sends (the same Lua scripts, BZMPOP,
 * receipts), without the layer around them: what the layer itself costs. Fan-out receivers are
 * spread over 4 layer instances (4 process keys), as 4 worker processes would be.
 */
const message = (n: number) => ({ type: "bench.message", text: "hello", n });
/** Sends in flight at once in bulk, for every subject. */
const BULK_WINDOW = 100;
const INSTANCES = 4;

let service: Service | undefined;
const prefix = () => `bench-${randomBytes(4).toString("hex")}:`;

function layer(options: { prefix: string; capacity?: number }) {
  return new RedisChannelLayer({ hosts: [service?.url as string], ...options });
}

async function pingPong(count: number): Promise<number> {
  const one = layer({ prefix: prefix() });
  const channel = await one.newChannel();
  for (let n = 0; n < count; n++) {
    await one.send(channel, message(n));
    await one.receive(channel);
  }
  await one.flush();
  await one.close();
  return count;
}

async function bulk(count: number): Promise<number> {
  const one = layer({ prefix: prefix(), capacity: count + 1 });
  const channel = await one.newChannel();
  for (let start = 0; start < count; start += BULK_WINDOW) {
    const sends: Promise<void>[] = [];
    for (let n = start; n < Math.min(count, start + BULK_WINDOW); n++) sends.push(one.send(channel, message(n)));
    await Promise.all(sends);
  }
  for (let n = 0; n < count; n++) await one.receive(channel);
  await one.flush();
  await one.close();
  return count;
}

/** Measures from the first groupSend to the last receive; setup (groupAdd) is not timed. */
async function fanOut(sends: number, members: number): Promise<{ operations: number; seconds: number }> {
  const shared = prefix();
  const sender = layer({ prefix: shared, capacity: sends + 1 });
  const receivers = Array.from({ length: INSTANCES }, () => layer({ prefix: shared, capacity: sends + 1 }));
  const channels: [RedisChannelLayer, string][] = [];
  for (let i = 0; i < members; i++) {
    const receiver = receivers[i % INSTANCES] as RedisChannelLayer;
    channels.push([receiver, await receiver.newChannel()]);
  }
  for (let start = 0; start < members; start += 500) {
    await Promise.all(channels.slice(start, start + 500).map(([, channel]) => sender.groupAdd("bench", channel)));
  }
  const measured = await measure(async () => {
    const draining = channels.map(async ([receiver, channel]) => {
      for (let n = 0; n < sends; n++) await receiver.receive(channel);
    });
    for (let n = 0; n < sends; n++) await sender.groupSend("bench", message(n));
    await Promise.all(draining);
    return sends * members;
  });
  await sender.flush();
  await Promise.all([sender, ...receivers].map((each) => each.close()));
  return measured;
}

// Raw ioredis: the layer's commands, issued by hand. One connection sends, one blocks.
const packr = new MessageSerializer();

interface RawPeer {
  command: Redis;
  blocking: Redis;
  key: string;
  marker: string;
  held: string;
  channel: string;
}

async function rawPeer(): Promise<RawPeer> {
  const base = prefix();
  const channel = `specific.${randomBytes(8).toString("hex")}!${randomBytes(12).toString("hex")}`;
  const key = base + channel.slice(0, channel.indexOf("!") + 1);
  const command = new Redis(service?.url as string);
  const blocking = new Redis(service?.url as string);
  await command.set(`${key}$receiver`, "1", "PX", 60_000);
  return { command, blocking, key, marker: `${key}$receiver`, held: `${base}${channel}$held`, channel };
}

function rawSend(peer: RawPeer, n: number, capacity: number): Promise<unknown> {
  const id = randomBytes(12);
  const now = Date.now();
  const body = packr.encode({ ...message(n), __asgi_channel__: peer.channel });
  return SEND.run(
    peer.command,
    [peer.key, peer.marker, peer.held],
    [(now / 1000).toFixed(6), ((now - 60_000) / 1000).toFixed(6), 60_000, capacity, Buffer.concat([id, body]), id],
  );
}

/** Pops up to `count` members, decodes them and sends their receipts, as the layer's loop does. */
async function rawReceive(peer: RawPeer, count: number): Promise<number> {
  const reply = (await peer.blocking.callBuffer("BZMPOP", 5, 1, peer.key, "MIN", "COUNT", count)) as
    | [Buffer, [Buffer, Buffer][]]
    | null;
  if (!reply) return 0;
  const ids: Buffer[] = [];
  for (const [member] of reply[1]) {
    packr.decode(member.subarray(12));
    ids.push(member.subarray(0, 12));
  }
  await ACK.run(
    peer.command,
    ids.map(() => peer.held),
    ids,
  );
  return ids.length;
}

async function closeRaw(peer: RawPeer): Promise<void> {
  await peer.command.del(peer.key, peer.marker, peer.held);
  peer.command.disconnect();
  peer.blocking.disconnect();
}

async function rawPingPong(count: number): Promise<number> {
  const peer = await rawPeer();
  for (let n = 0; n < count; n++) {
    await rawSend(peer, n, 100);
    await rawReceive(peer, 1);
  }
  await closeRaw(peer);
  return count;
}

async function rawBulk(count: number): Promise<number> {
  const peer = await rawPeer();
  for (let start = 0; start < count; start += BULK_WINDOW) {
    const sends: Promise<unknown>[] = [];
    for (let n = start; n < Math.min(count, start + BULK_WINDOW); n++) sends.push(rawSend(peer, n, count + 1));
    await Promise.all(sends);
  }
  for (let received = 0; received < count; ) received += await rawReceive(peer, 512);
  await closeRaw(peer);
  return count;
}

/** Runs `work` once unmeasured so the JIT has warmed up, then measures it. */
async function warmMeasure(work: () => Promise<number>) {
  await work();
  return measure(work);
}

async function warmFanOut(sends: number, members: number) {
  await fanOut(Math.max(1, Math.round(sends / 4)), members);
  return fanOut(sends, members);
}

const suite: BenchSuite = {
  name: "redis",
  async unavailable() {
    // A private redis-server when the binary is here: the shared one also serves other test runs.
    service =
      (await startService("redis", { throwaway: true }).catch(() => undefined)) ?? (await startService("redis"));
    return service ? undefined : "no Redis: set REDIS_URL or install redis-server";
  },
  cases({ quick }) {
    const scale = quick ? 0.1 : 1;
    const pingPongCount = Math.round(20_000 * scale);
    const bulkCount = Math.round(100_000 * scale);
    const fan100Sends = Math.round(1000 * scale);
    const fan10kSends = quick ? 2 : 20;
    // channels_redis is ~100x slower: give it sizes that take a second or two.
    const pyPingPong = Math.round(2000 * scale);
    const pyBulk = Math.round(5000 * scale);
    const pyFan100 = Math.round(200 * scale);
    const pyFan10k = quick ? 1 : 3;
    const python = async (args: string[]) => {
      const reason = await pythonUnavailable("channels_redis.core");
      if (reason) throw new Error(reason);
      return runPythonCase("channels_redis_bench.py", [service?.url as string, ...args]);
    };
    const cases: BenchCase[] = [
      { scenario: "ping-pong", subject: OURS, run: () => warmMeasure(() => pingPong(pingPongCount)) },
      { scenario: "ping-pong", subject: "channels_redis", run: () => python(["ping-pong", String(pyPingPong)]) },
      { scenario: "ping-pong", subject: "raw ioredis", run: () => warmMeasure(() => rawPingPong(pingPongCount)) },
      { scenario: "bulk", subject: OURS, run: () => warmMeasure(() => bulk(bulkCount)) },
      { scenario: "bulk", subject: "channels_redis", run: () => python(["bulk", String(pyBulk)]) },
      { scenario: "bulk", subject: "raw ioredis", run: () => warmMeasure(() => rawBulk(bulkCount)) },
      { scenario: "fan-out-100", subject: OURS, run: () => warmFanOut(fan100Sends, 100) },
      {
        scenario: "fan-out-100",
        subject: "channels_redis",
        run: () => python(["fan-out", String(pyFan100), "100", String(INSTANCES)]),
      },
      { scenario: "fan-out-10000", subject: OURS, run: () => warmFanOut(fan10kSends, 10_000) },
      {
        scenario: "fan-out-10000",
        subject: "channels_redis",
        run: () => python(["fan-out", String(pyFan10k), "10000", String(INSTANCES)]),
      },
    ];
    return cases;
  },
  async teardown() {
    await service?.stop();
  },
};

export default suite;
