import { InMemoryChannelLayer } from "@channel-layers/memory";
import { type BenchCase, type BenchSuite, measure, OURS } from "../src/harness.js";
import { pythonUnavailable, runPythonCase } from "../src/python.js";

/** The in-memory layer beside Django Channels' InMemoryChannelLayer, same scenarios, same sizes. */
const message = (n: number) => ({ type: "bench.message", text: "hello", n });

async function pingPong(count: number): Promise<number> {
  const layer = new InMemoryChannelLayer();
  const channel = await layer.newChannel();
  for (let n = 0; n < count; n++) {
    await layer.send(channel, message(n));
    await layer.receive(channel);
  }
  await layer.close();
  return count;
}

/** `rounds` times: `count` sends, then `count` receives. */
async function bulk(count: number, rounds: number): Promise<number> {
  const layer = new InMemoryChannelLayer({ capacity: count });
  const channel = await layer.newChannel();
  for (let round = 0; round < rounds; round++) {
    for (let n = 0; n < count; n++) await layer.send(channel, message(n));
    for (let n = 0; n < count; n++) await layer.receive(channel);
  }
  await layer.close();
  return count * rounds;
}

async function fanOut(sends: number, members: number): Promise<number> {
  const layer = new InMemoryChannelLayer({ capacity: sends + 1 });
  const channels = await Promise.all(Array.from({ length: members }, () => layer.newChannel()));
  for (const channel of channels) await layer.groupAdd("bench", channel);
  const drain = async (channel: string) => {
    for (let n = 0; n < sends; n++) await layer.receive(channel);
  };
  const receivers = channels.map(drain);
  for (let n = 0; n < sends; n++) await layer.groupSend("bench", message(n));
  await Promise.all(receivers);
  await layer.close();
  return sends * members;
}

/** Both sides report the best of this many runs, each on a fresh layer. */
const RUNS = 3;

/**
 * Runs `work` once unmeasured so the JIT has warmed up, then measures it RUNS times and keeps the
 * fastest: V8 is still recompiling the hot path during the first measured run.
 */
async function warmMeasure(work: () => Promise<number>) {
  await work();
  let best = await measure(work);
  for (let run = 1; run < RUNS; run++) {
    const next = await measure(work);
    if (next.seconds < best.seconds) best = next;
  }
  return best;
}

const suite: BenchSuite = {
  name: "memory",
  cases({ quick }) {
    const scale = quick ? 0.1 : 1;
    const pingPongCount = Math.round(500_000 * scale);
    // Bursts of 10,000 queued messages, 20 of them (a burst far above the default capacity of 100).
    const bulkCount = 10_000;
    const bulkRounds = Math.max(1, Math.round(20 * scale));
    const fan100Sends = Math.round(200 * scale);
    // Channels' in-memory layer walks every membership on each receive: 10,000 members is one send.
    const fan10kSends = 1;
    // Channels' fan-out to 10,000 takes half a minute a run (and CPython has no JIT to warm): once.
    const python = async (args: string[], runs = RUNS) => {
      const reason = await pythonUnavailable("channels.layers");
      if (reason) throw new Error(reason);
      return runPythonCase("channels_memory.py", args, { BENCH_RUNS: String(runs) });
    };
    const cases: BenchCase[] = [
      { scenario: "ping-pong", subject: OURS, run: () => warmMeasure(() => pingPong(pingPongCount)) },
      { scenario: "ping-pong", subject: "django-channels", run: () => python(["ping-pong", String(pingPongCount)]) },
      { scenario: "bulk", subject: OURS, run: () => warmMeasure(() => bulk(bulkCount, bulkRounds)) },
      {
        scenario: "bulk",
        subject: "django-channels",
        run: () => python(["bulk", String(bulkCount), String(bulkRounds)]),
      },
      { scenario: "fan-out-100", subject: OURS, run: () => warmMeasure(() => fanOut(fan100Sends, 100)) },
      {
        scenario: "fan-out-100",
        subject: "django-channels",
        run: () => python(["fan-out", String(fan100Sends), "100"]),
      },
      { scenario: "fan-out-10000", subject: OURS, run: () => warmMeasure(() => fanOut(fan10kSends, 10_000)) },
      {
        scenario: "fan-out-10000",
        subject: "django-channels",
        run: () => python(["fan-out", String(fan10kSends), "10000"], 1),
      },
    ];
    return cases;
  },
};

export default suite;
