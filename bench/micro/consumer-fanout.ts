// The consumer side of a chat room's fan-out, without sockets: N tutorial ChatConsumers on one
// InMemoryChannelLayer, their sends counted instead of written. It prices what the runtime adds
// to a delivery (layer receive, dispatch, the handler's JSON, send) apart from the system calls
// that dominate `pnpm bench runtime`, so a change of a few hundred nanoseconds shows.
//
//   pnpm exec tsx --conditions=source bench/micro/consumer-fanout.ts [--members 200] [--messages 20000] [--runs 5]
//     [--redis <url> [--remote]]
//
// With --redis the room is on a RedisChannelLayer (a prefix of its own on that server): the
// members on the sending instance, or with --remote on a second instance in this process, so a
// message reaches them through their process key and the receive loop, as on a chat server's
// second process.
//
// Prints CPU µs per delivery (process.cpuUsage, user + system) for rounds (one groupSend, then
// wait for every member) and bursts (100 groupSends at once), the best and the median of --runs.
import type { ChannelLayer, Message } from "@channel-layers/core";
import { InMemoryChannelLayer } from "@channel-layers/memory";
import { RedisChannelLayer } from "@channel-layers/redis";
import { type Scope, WebsocketConsumer } from "@channel-layers/runtime";

const option = (name: string, fallback: number) => {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
};
const MEMBERS = option("members", 200);
const MESSAGES = option("messages", 20_000);
const RUNS = option("runs", 5);
const BURST = 100;
const redisAt = process.argv.indexOf("--redis");
const REDIS_URL = redisAt === -1 ? undefined : process.argv[redisAt + 1];
const REMOTE = process.argv.includes("--remote");

/** examples/chat's ChatConsumer, as the tutorial writes it. */
class ChatConsumer extends WebsocketConsumer {
  override async connect() {
    await this.groupAdd("chat_lobby");
    await this.accept();
  }
  async chat_message(event: Message) {
    await this.send(JSON.stringify({ message: event.message }));
  }
}

const RESOLVED = Promise.resolve();
let delivered = 0;
let waitingFor = 0;
let wake: (() => void) | undefined;

/** Resolves once `count` more frames were sent to clients. */
function deliveries(count: number): Promise<void> {
  waitingFor = delivered + count;
  return new Promise((resolve) => {
    wake = resolve;
  });
}

const send = (event: Message): Promise<void> => {
  if (event.type === "websocket.send" && ++delivered === waitingFor) wake?.();
  return RESOLVED;
};

async function room(layer: ChannelLayer): Promise<() => Promise<unknown>> {
  const ends: (() => void)[] = [];
  const runs: Promise<void>[] = [];
  const connected: Promise<void>[] = [];
  for (let i = 0; i < MEMBERS; i++) {
    const scope: Scope = {
      type: "websocket",
      path: "/ws/chat/lobby/",
      raw_path: "/ws/chat/lobby/",
      query_string: "",
      headers: [],
      subprotocols: [],
      scheme: "ws",
      url_route: { args: [], kwargs: { room_name: "lobby" } },
      channel_layer: layer,
    };
    let accepted: () => void = () => undefined;
    connected.push(new Promise((resolve) => (accepted = resolve)));
    let phase = 0;
    let disconnect: (message: Message) => void = () => undefined;
    const receive = (): Promise<Message> => {
      if (phase++ === 0) return Promise.resolve({ type: "websocket.connect" });
      return new Promise((resolve) => (disconnect = resolve));
    };
    const consumerSend = (event: Message) => {
      if (event.type === "websocket.accept") accepted();
      return send(event);
    };
    runs.push(new ChatConsumer().run(scope, receive, consumerSend));
    ends.push(() => disconnect({ type: "websocket.disconnect", code: 1000 }));
  }
  await Promise.all(connected);
  return () => {
    for (const end of ends) end();
    return Promise.all(runs);
  };
}

function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

async function measure(layer: ChannelLayer, workload: "rounds" | "burst"): Promise<number> {
  const messages = Math.max(BURST, Math.round(MESSAGES / MEMBERS));
  const started = cpuMicros();
  if (workload === "rounds") {
    for (let n = 0; n < messages; n++) {
      const all = deliveries(MEMBERS);
      await layer.groupSend("chat_lobby", { type: "chat_message", message: `message ${n} from the bench` });
      await all;
    }
  } else {
    for (let n = 0; n < messages; n += BURST) {
      const all = deliveries(MEMBERS * BURST);
      for (let k = 0; k < BURST; k++) {
        void layer.groupSend("chat_lobby", { type: "chat_message", message: `message ${n + k} from the bench` });
      }
      await all;
    }
  }
  return (cpuMicros() - started) / (messages * MEMBERS);
}

const prefix = `fanout-bench-${process.pid}`;
const redisLayer = () => new RedisChannelLayer({ hosts: [REDIS_URL as string], prefix, capacity: 1000 });
const layer: ChannelLayer = REDIS_URL === undefined ? new InMemoryChannelLayer({ capacity: 1000 }) : redisLayer();
const members = REDIS_URL !== undefined && REMOTE ? redisLayer() : layer;
const end = await room(members);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
for (const workload of ["rounds", "burst"] as const) {
  await measure(layer, workload); // warm-up
  const runs: number[] = [];
  for (let run = 0; run < RUNS; run++) runs.push(await measure(layer, workload));
  console.log(
    `${workload}: ${MEMBERS} members, best ${Math.min(...runs).toFixed(2)} µs, median ${median(runs).toFixed(2)} µs CPU per delivery`,
  );
}
await end();
await layer.close();
if (members !== layer) await members.close();
