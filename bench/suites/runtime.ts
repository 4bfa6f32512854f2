import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { startService, type TestService } from "@channel-layers/testing";
import { type ChatClient, openClients } from "../src/chat-clients.js";
import { type Backend, type ChatServers, type ServerKind, SUBJECTS, startChatServers } from "../src/chat-servers.js";
import { BURST, driveRoom, type Workload } from "../src/chat-workload.js";
import { type BenchCase, type BenchSuite, type Measurement, OURS, type SuiteOptions } from "../src/harness.js";
import { cpuMeter, processesServingPort } from "../src/process-cpu.js";
import { runtimeReport } from "../src/runtime-report.js";

/**
 * End to end (issue 14): N WebSocket clients in one chat room, each message fanned out to all of
 * them, with 1 or 2 server processes sharing the backend. Subjects: examples/chat on each layer;
 * Socket.IO 4.8 with @socket.io/redis-adapter, and with its in-memory adapter; the seed stack,
 * Daphne with channels_redis, and with Channels' in-memory layer. The clients run in this process
 * (client i on server i mod processes; client 0 sends); a delivery is one client receiving one
 * message, its latency from the send to that receipt.
 */
interface Subject {
  name: string;
  kind: ServerKind;
}

interface Group {
  backend: Backend;
  processes: number;
  subjects: Subject[];
}

const ours: Subject = { name: OURS, kind: "channel-layers" };
const GROUPS: Group[] = [
  ...[1, 2].map((processes) => ({
    backend: "redis" as const,
    processes,
    subjects: [
      ours,
      { name: SUBJECTS.socketIoRedis, kind: "socket.io" as const },
      { name: SUBJECTS.daphneRedis, kind: "daphne" as const },
    ],
  })),
  {
    backend: "memory",
    processes: 1,
    subjects: [
      ours,
      { name: SUBJECTS.socketIoMemory, kind: "socket.io" },
      { name: SUBJECTS.daphneMemory, kind: "daphne" },
    ],
  },
  ...(["nats", "postgres"] as const).flatMap((backend) =>
    [1, 2].map((processes) => ({ backend, processes, subjects: [ours] })),
  ),
];
const CLIENTS = [200, 1000];
const WORKLOADS: Workload[] = ["rounds", "burst"];

export function scenarioName(backend: Backend, processes: number, clients: number, workload: Workload): string {
  return `${backend}, ${processes} process${processes === 1 ? "" : "es"}, ${clients} clients, ${workload}`;
}

// Backends: a private throwaway server per kind when the binary is here (the shared ones serve
// other test runs), else the env URL / shared server.
const backends = new Map<Exclude<Backend, "memory">, Promise<TestService>>();
function backend(kind: Exclude<Backend, "memory">): Promise<TestService> {
  let service = backends.get(kind);
  if (service === undefined) {
    service = (async () => {
      const found =
        (await startService(kind, { throwaway: true }).catch(() => undefined)) ?? (await startService(kind));
      if (!found) throw new Error(`no ${kind} server: install its binary or set its URL`);
      return found;
    })();
    backends.set(kind, service);
  }
  return service;
}

// Servers live for one group's cases and are stopped when the next group starts, so idle
// servers of other groups neither take memory nor wake up during a measurement.
let current: { group: Group; servers: Map<string, Promise<ChatServers>> } | undefined;
async function serversFor(group: Group, subject: Subject, options: SuiteOptions): Promise<ChatServers> {
  if (current?.group !== group) {
    await stopServers();
    current = { group, servers: new Map() };
  }
  let servers = current.servers.get(subject.name);
  if (servers === undefined) {
    const url = group.backend === "memory" ? "" : (await backend(group.backend)).url;
    servers = startChatServers(subject.kind, group.backend, group.processes, url, options);
    current.servers.set(subject.name, servers);
  }
  return servers;
}

async function stopServers(): Promise<void> {
  if (current === undefined) return;
  const started = [...current.servers.values()];
  current = undefined;
  for (const servers of started) await (await servers.catch(() => undefined))?.stop();
}

function backendPids(group: Group): Promise<number[]> {
  if (group.backend === "memory") return Promise.resolve([]);
  return backend(group.backend).then((service) => processesServingPort(Number(new URL(service.url).port)));
}

let rooms = 0;

/** Messages per case: about `deliveries` deliveries, in whole bursts for "burst". */
function messagesFor(workload: Workload, clients: number, deliveries: number): number {
  if (workload === "rounds") return Math.max(10, Math.round(deliveries / clients));
  return BURST * Math.max(1, Math.round(deliveries / (BURST * clients)));
}

async function runCase(
  group: Group,
  subject: Subject,
  clients: number,
  workload: Workload,
  deliveries: number,
  options: SuiteOptions,
): Promise<Measurement> {
  const servers = await serversFor(group, subject, options);
  const room = `bench${++rooms}`;
  const chatClients: ChatClient[] = await openClients(servers.endpoints, room, clients);
  try {
    // Unmeasured rounds first: the JIT and every socket's paths are warm before the clock starts.
    await driveRoom(chatClients, "rounds", messagesFor("rounds", clients, Math.min(deliveries, 20_000) / 5));
    // And one unmeasured burst before bursts: a burst's own paths (many frames a socket in one
    // turn, buffers that fill up) were cold in the first measured one, which took twice as long as
    // the next on every subject, so that with 5 bursts a case's p99 was that one burst's.
    if (workload === "burst") await driveRoom(chatClients, "burst", BURST);
    const serverCpu = cpuMeter(servers.pids);
    const backendCpu = cpuMeter(await backendPids(group));
    const client = process.cpuUsage();
    const fromUs = Number(process.hrtime.bigint() / 1000n);
    const figures = await driveRoom(chatClients, workload, messagesFor(workload, clients, deliveries));
    const toUs = Number(process.hrtime.bigint() / 1000n);
    const clientCpu = process.cpuUsage(client);
    const [serverSeconds, backendSeconds] = [serverCpu(), backendCpu()];
    const perDelivery = (seconds: number) => (seconds * 1e6) / figures.deliveries;
    if (options.cpuProfileDir) {
      const window = {
        scenario: scenarioName(group.backend, group.processes, clients, workload),
        subject: subject.name,
      };
      const line = JSON.stringify({ ...window, pids: servers.pids, fromUs, toUs, deliveries: figures.deliveries });
      appendFileSync(join(options.cpuProfileDir, "windows.jsonl"), `${line}\n`);
    }
    return {
      operations: figures.deliveries,
      seconds: figures.seconds,
      extra: {
        p50_ms: figures.p50Ms,
        p99_ms: figures.p99Ms,
        // CPU microseconds per delivery: of the server processes, of the backend, of the clients.
        server_us: perDelivery(serverSeconds),
        backend_us: perDelivery(backendSeconds),
        client_us: perDelivery((clientCpu.user + clientCpu.system) / 1e6),
      },
    };
  } finally {
    await Promise.all(chatClients.map((each) => each.close()));
  }
}

const suite: BenchSuite = {
  name: "runtime",
  cases(options) {
    // Deliveries per measured case; the seed stack, about 10x slower, gets a quarter of them.
    const deliveries = options.quick ? 10_000 : 100_000;
    const cases: BenchCase[] = [];
    for (const group of GROUPS) {
      for (const clients of CLIENTS) {
        for (const workload of WORKLOADS) {
          for (const subject of group.subjects) {
            // Channels' in-memory layer walks every membership on each receive: quadratic in the room.
            if (subject.name === SUBJECTS.daphneMemory && clients > 200) continue;
            const share = subject.kind === "daphne" ? deliveries / 4 : deliveries;
            cases.push({
              scenario: scenarioName(group.backend, group.processes, clients, workload),
              subject: subject.name,
              run: () => runCase(group, subject, clients, workload, share, options),
            });
          }
        }
      }
    }
    return cases;
  },
  async teardown() {
    await stopServers();
    for (const service of backends.values()) await (await service.catch(() => undefined))?.stop();
    backends.clear();
  },
  summarize: runtimeReport,
};

export default suite;
