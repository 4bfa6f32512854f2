import { type ChildProcess, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { ChannelLayer } from "@channel-layers/core";
import { MessageSerializer } from "@channel-layers/core/backend";
import { deletePrefixStreams, NatsChannelLayer } from "@channel-layers/nats";
import { startService, type TestService } from "@channel-layers/testing";
import { connect, createInbox, type Msg, type NatsConnection } from "@nats-io/transport-node";
import {
  type BenchCase,
  type BenchSuite,
  type Measurement,
  measure,
  OURS,
  percentile,
  withDeadline,
} from "../src/harness.js";

/**
 * NatsChannelLayer beside raw nats.js doing the same deliveries by hand (publish + subscribe, the
 * same MessagePack encode and decode on each side) and beside the Redis layer, in one run, on the
 * NATS server at NATS_URL (else a throwaway one) and the Redis at REDIS_URL (else 127.0.0.1).
 * Ping-pong and bulk run between two layer instances (two connections) in this process; fan-out
 * receivers live in 4 worker processes (this file, forked), the sender here.
 */
const RAW = "raw nats.js";
const REDIS = "redis layer";
const WORKERS = 4;
const RUNS = 3;
const FAN_OUT_DEADLINE_MS = 120_000;
const message = (n: number) => ({ type: "bench.message", text: "hello", n });
const serializer = new MessageSerializer();

let service: TestService | undefined;
const prefix = () => `bench-${randomBytes(4).toString("hex")}`;
const natsUrl = () => service?.url as string;
const redisUrl = () => process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

type Kind = "nats" | "redis" | "raw";

/** Two instances of one layer on one prefix: `a` sends, `b` receives. */
interface Pair {
  a: ChannelLayer;
  b: ChannelLayer;
  close(): Promise<void>;
}

async function layerPair(kind: Exclude<Kind, "raw">, capacity: number): Promise<Pair> {
  const shared = prefix();
  if (kind === "redis") {
    const { RedisChannelLayer } = await import("@channel-layers/redis");
    const [a, b] = [0, 1].map(() => new RedisChannelLayer({ hosts: [redisUrl()], prefix: `${shared}:`, capacity }));
    return {
      a: a as ChannelLayer,
      b: b as ChannelLayer,
      close: async () => {
        await a?.flush();
        await Promise.all([a?.close(), b?.close()]);
      },
    };
  }
  const [a, b] = [0, 1].map(() => new NatsChannelLayer({ servers: natsUrl(), prefix: shared, capacity }));
  return {
    a: a as ChannelLayer,
    b: b as ChannelLayer,
    close: async () => {
      await Promise.all([a?.close(), b?.close()]);
      const admin = await connect({ servers: natsUrl() });
      await deletePrefixStreams(admin, shared);
      await admin.close();
    },
  };
}

/** A sends to a channel of B, B answers on a channel of A: `count` round trips, 2 messages each. */
async function pingPong(pair: Pair, count: number): Promise<Measurement> {
  const [toB, toA] = [await pair.b.newChannel(), await pair.a.newChannel()];
  const echo = (async () => {
    for (let n = 0; n < count; n++) await pair.b.send(toA, await pair.b.receive(toB));
  })();
  const latencies: number[] = [];
  const measured = await measure(async () => {
    for (let n = 0; n < count; n++) {
      const started = performance.now();
      await pair.a.send(toB, message(n));
      await pair.a.receive(toA);
      latencies.push(performance.now() - started);
    }
    return count * 2;
  });
  await echo;
  latencies.sort((x, y) => x - y);
  return { ...measured, extra: { p50ms: percentile(latencies, 50), p99ms: percentile(latencies, 99) } };
}

/** `count` sends from A, each awaited, then `count` receives on B. */
async function bulk(pair: Pair, count: number): Promise<Measurement> {
  const channel = await pair.b.newChannel();
  return measure(async () => {
    for (let n = 0; n < count; n++) await pair.a.send(channel, message(n));
    for (let n = 0; n < count; n++) await pair.b.receive(channel);
    return count;
  });
}

/** A named (for NATS: durable, JetStream) channel: `count` sends from A, then `count` receives on B. */
async function durableBulk(pair: Pair, count: number): Promise<Measurement> {
  const channel = `bench-jobs-${randomBytes(4).toString("hex")}`;
  await pair.a.send(channel, message(-1));
  await pair.b.receive(channel);
  return measure(async () => {
    for (let n = 0; n < count; n++) await pair.a.send(channel, message(n));
    for (let n = 0; n < count; n++) await pair.b.receive(channel);
    return count;
  });
}

async function withPair(
  kind: Exclude<Kind, "raw">,
  capacity: number,
  work: (pair: Pair) => Promise<Measurement>,
): Promise<Measurement> {
  return bestOf(async () => {
    const pair = await layerPair(kind, capacity);
    try {
      return await work(pair);
    } finally {
      await pair.close();
    }
  });
}

/** The fastest of RUNS runs: the machine is shared, and every subject gets the same treatment. */
async function bestOf(run: () => Promise<Measurement>): Promise<Measurement> {
  let best: Measurement | undefined;
  for (let i = 0; i < RUNS; i++) {
    const measurement = await run();
    if (best === undefined || measurement.operations / measurement.seconds > best.operations / best.seconds) {
      best = measurement;
    }
  }
  return best as Measurement;
}

// Raw nats.js: two connections, subjects by hand, each message MessagePack-encoded and decoded.

async function rawConnections(): Promise<[NatsConnection, NatsConnection]> {
  return [await connect({ servers: natsUrl() }), await connect({ servers: natsUrl() })];
}

async function rawPingPong(count: number): Promise<Measurement> {
  const [a, b] = await rawConnections();
  const subject = `raw.${randomBytes(4).toString("hex")}`;
  b.subscribe(`${subject}.ping`, {
    callback: (_error, msg) => b.publish(`${subject}.pong`, serializer.encode(serializer.decode(msg.data))),
  });
  let answered: (() => void) | undefined;
  a.subscribe(`${subject}.pong`, {
    callback: (_error, msg) => {
      serializer.decode(msg.data);
      answered?.();
    },
  });
  await Promise.all([a.flush(), b.flush()]);
  const latencies: number[] = [];
  const measured = await measure(async () => {
    for (let n = 0; n < count; n++) {
      const started = performance.now();
      const pong = new Promise<void>((resolve) => {
        answered = resolve;
      });
      a.publish(`${subject}.ping`, serializer.encode(message(n)));
      await pong;
      latencies.push(performance.now() - started);
    }
    return count * 2;
  });
  await Promise.all([a.close(), b.close()]);
  latencies.sort((x, y) => x - y);
  return { ...measured, extra: { p50ms: percentile(latencies, 50), p99ms: percentile(latencies, 99) } };
}

async function rawBulk(count: number): Promise<Measurement> {
  const [a, b] = await rawConnections();
  const subject = `raw.${randomBytes(4).toString("hex")}`;
  const received: unknown[] = [];
  let done: (() => void) | undefined;
  b.subscribe(subject, {
    callback: (_error, msg) => {
      received.push(serializer.decode(msg.data));
      if (received.length === count) done?.();
    },
  });
  await b.flush();
  const measured = await measure(async () => {
    const all = new Promise<void>((resolve) => {
      done = resolve;
    });
    for (let n = 0; n < count; n++) a.publish(subject, serializer.encode(message(n)));
    await all;
    return count;
  });
  await Promise.all([a.close(), b.close()]);
  return measured;
}

/** JetStream by hand: a work-queue stream, each publish awaiting its ack, each message pulled and acked. */
async function rawDurableBulk(count: number): Promise<Measurement> {
  const [a, b] = await rawConnections();
  const name = `raw_${randomBytes(4).toString("hex")}`;
  const subject = `raw.${name}`;
  const api = async (nc: NatsConnection, call: string, body: unknown) =>
    JSON.parse((await nc.request(`$JS.API.${call}`, JSON.stringify(body))).string()) as { error?: unknown };
  const created = await api(a, `STREAM.CREATE.${name}`, {
    name,
    subjects: [subject],
    retention: "workqueue",
    storage: "file",
    max_msgs: count + 1,
    discard: "new",
  });
  if (created.error) throw new Error(JSON.stringify(created.error));
  await api(a, `CONSUMER.DURABLE.CREATE.${name}.receivers`, {
    stream_name: name,
    config: { durable_name: "receivers", ack_policy: "explicit" },
  });
  const next = JSON.stringify({ batch: 1, expires: 5e9 });
  // Pulled messages arrive with their stream subject, not the request's: one inbox, in order.
  const inbox = createInbox();
  const waiting: ((msg: Msg) => void)[] = [];
  b.subscribe(inbox, { callback: (_error, msg) => waiting.shift()?.(msg) });
  await b.flush();
  try {
    return await measure(async () => {
      for (let n = 0; n < count; n++) {
        const ack = JSON.parse((await a.request(subject, serializer.encode(message(n)))).string()) as {
          error?: unknown;
        };
        if (ack.error) throw new Error(JSON.stringify(ack.error));
      }
      for (let n = 0; n < count; n++) {
        const pulled = new Promise<Msg>((resolve) => waiting.push(resolve));
        b.publish(`$JS.API.CONSUMER.MSG.NEXT.${name}.receivers`, next, { reply: inbox });
        const msg = await pulled;
        serializer.decode(msg.data);
        msg.respond("+ACK");
      }
      return count;
    });
  } finally {
    await api(a, `STREAM.DELETE.${name}`, {});
    await Promise.all([a.close(), b.close()]);
  }
}

// Fan-out over worker processes: this file, forked with a job in its environment.

interface FanOutJob {
  kind: Kind;
  nats: string;
  redis: string;
  prefix: string;
  group: string;
  members: number;
  sends: number;
}

const WORKER_ENV = "CHANNEL_LAYERS_NATS_BENCH_WORKER";

/** In a worker: `members` receivers of `sends` messages each; says "ready", then "done". */
async function fanOutWorker(job: FanOutJob): Promise<void> {
  const say = (what: string) => process.send?.(what);
  let finish: () => Promise<void>;
  if (job.kind === "raw") {
    const nc = await connect({ servers: job.nats });
    let finished = 0;
    for (let m = 0; m < job.members; m++) {
      let got = 0;
      nc.subscribe(job.group, {
        callback: (_error, msg) => {
          serializer.decode(msg.data);
          if (++got === job.sends && ++finished === job.members) say("done");
        },
      });
    }
    await nc.flush();
    finish = () => nc.close();
    say("ready");
  } else {
    const layer: ChannelLayer =
      job.kind === "nats"
        ? new NatsChannelLayer({ servers: job.nats, prefix: job.prefix, capacity: job.sends + 1 })
        : new (await import("@channel-layers/redis")).RedisChannelLayer({
            hosts: [job.redis],
            prefix: `${job.prefix}:`,
            capacity: job.sends + 1,
          });
    const channels = await Promise.all(Array.from({ length: job.members }, () => layer.newChannel()));
    for (let i = 0; i < channels.length; i += 500) {
      await Promise.all(channels.slice(i, i + 500).map((channel) => layer.groupAdd(job.group, channel)));
    }
    finish = () => layer.close();
    say("ready");
    await Promise.all(
      channels.map(async (channel) => {
        for (let n = 0; n < job.sends; n++) await layer.receive(channel);
      }),
    );
    say("done");
  }
  process.once("message", () => {
    void finish().finally(() => process.exit(0));
  });
}

/** Waits for `count` of `word` from the workers. */
function heard(workers: ChildProcess[], word: string): Promise<void> {
  return Promise.all(
    workers.map(
      (worker) =>
        new Promise<void>((resolve, reject) => {
          const listen = (said: unknown) => {
            if (said !== word) return;
            worker.off("message", listen);
            resolve();
          };
          worker.on("message", listen);
          worker.once("exit", (code) => reject(new Error(`fan-out worker exited (${code}) before "${word}"`)));
        }),
    ),
  ).then(() => undefined);
}

async function fanOut(kind: Kind, sends: number, members: number): Promise<Measurement> {
  const job: FanOutJob = {
    kind,
    nats: natsUrl(),
    redis: redisUrl(),
    prefix: prefix(),
    group: kind === "raw" ? `raw.fan.${randomBytes(4).toString("hex")}` : "bench-fan",
    members: members / WORKERS,
    sends,
  };
  const workers = Array.from({ length: WORKERS }, () =>
    fork(fileURLToPath(import.meta.url), [], {
      execArgv: ["--import", import.meta.resolve("tsx"), "--conditions=source"],
      env: { ...process.env, [WORKER_ENV]: JSON.stringify(job) },
    }),
  );
  const sender =
    kind === "raw"
      ? await connect({ servers: natsUrl() })
      : kind === "nats"
        ? new NatsChannelLayer({ servers: natsUrl(), prefix: job.prefix, capacity: sends + 1 })
        : new (await import("@channel-layers/redis")).RedisChannelLayer({
            hosts: [redisUrl()],
            prefix: `${job.prefix}:`,
            // groupSend checks each member against the sender's capacity (as channels_redis): with
            // the default 100, a worker that falls behind loses messages and the run never ends.
            capacity: sends + 1,
          });
  try {
    await heard(workers, "ready");
    const done = heard(workers, "done");
    return await measure(async () => {
      if ("publish" in sender) {
        for (let n = 0; n < sends; n++) sender.publish(job.group, serializer.encode(message(n)));
        await sender.flush();
      } else {
        for (let n = 0; n < sends; n++) await sender.groupSend(job.group, message(n));
      }
      await withDeadline(done, FAN_OUT_DEADLINE_MS, "not every member received every message");
      return sends * members;
    });
  } finally {
    for (const worker of workers) worker.send("exit");
    await Promise.all(workers.map((worker) => new Promise((resolve) => worker.once("exit", resolve))));
    if ("publish" in sender) await sender.close();
    else {
      if (kind === "redis") await sender.flush();
      await sender.close();
    }
  }
}

if (process.env[WORKER_ENV]) await fanOutWorker(JSON.parse(process.env[WORKER_ENV]) as FanOutJob);

const suite: BenchSuite = {
  name: "nats",
  async cases({ quick }) {
    service = await startService("nats");
    if (!service) throw new Error("no NATS server (set NATS_URL or install nats-server)");
    const scale = quick ? 0.1 : 1;
    const pingPongCount = Math.round(5000 * scale);
    const bulkCount = Math.round(100_000 * scale);
    const durableCount = Math.round(5000 * scale);
    const fan100 = Math.round(1000 * scale);
    const fan10k = Math.max(2, Math.round(20 * scale));
    const cases: BenchCase[] = [];
    const add = (scenario: string, runs: Record<string, () => Promise<Measurement>>) => {
      for (const [subject, run] of Object.entries(runs)) cases.push({ scenario, subject, run });
    };
    add("ping-pong", {
      [OURS]: () => withPair("nats", 100, (pair) => pingPong(pair, pingPongCount)),
      [RAW]: () => bestOf(() => rawPingPong(pingPongCount)),
      [REDIS]: () => withPair("redis", 100, (pair) => pingPong(pair, pingPongCount)),
    });
    add("bulk", {
      [OURS]: () => withPair("nats", bulkCount + 1, (pair) => bulk(pair, bulkCount)),
      [RAW]: () => bestOf(() => rawBulk(bulkCount)),
      [REDIS]: () => withPair("redis", bulkCount + 1, (pair) => bulk(pair, bulkCount)),
    });
    add("fan-out-100", {
      [OURS]: () => bestOf(() => fanOut("nats", fan100, 100)),
      [RAW]: () => bestOf(() => fanOut("raw", fan100, 100)),
      [REDIS]: () => bestOf(() => fanOut("redis", fan100, 100)),
    });
    add("fan-out-10000", {
      [OURS]: () => bestOf(() => fanOut("nats", fan10k, 10_000)),
      [RAW]: () => bestOf(() => fanOut("raw", fan10k, 10_000)),
      [REDIS]: () => bestOf(() => fanOut("redis", fan10k, 10_000)),
    });
    add("durable-bulk", {
      [OURS]: () => withPair("nats", durableCount + 2, (pair) => durableBulk(pair, durableCount)),
      [`${RAW} + JetStream`]: () => bestOf(() => rawDurableBulk(durableCount)),
      [REDIS]: () => withPair("redis", durableCount + 2, (pair) => durableBulk(pair, durableCount)),
    });
    return cases;
  },
  async teardown() {
    await service?.stop();
  },
};

export default suite;
