import { SUBJECTS } from "./chat-servers.js";
import { type BenchResult, OURS } from "./harness.js";

/**
 * Issue 14's targets, read off one `pnpm bench runtime` run: each row is channel-layers ÷ a peer
 * on one scenario, with the p99 latencies beside it (the Socket.IO targets also want our p99 no
 * worse than theirs). Under --repeat, each side is its median trial.
 */
const TARGETS = [
  { backend: "redis", peer: SUBJECTS.socketIoRedis, atLeast: 1, p99: true },
  { backend: "redis", peer: SUBJECTS.daphneRedis, atLeast: 10, p99: false },
  { backend: "memory", peer: SUBJECTS.socketIoMemory, atLeast: 1, p99: false },
];

const rate = (value: number) => Math.round(value).toLocaleString("en-US");
/** A case's rate; under --repeat the median trial's, with the slowest and fastest trial's after it. */
const rateOf = (result: BenchResult) => {
  const { runs, min_per_s: min, max_per_s: max } = result.extra ?? {};
  return runs === undefined || min === undefined || max === undefined
    ? rate(result.perSecond)
    : `${rate(result.perSecond)} (${rate(min)}-${rate(max)})`;
};
const ms = (value: number | undefined) => (value === undefined ? "-" : value.toFixed(1));

function targets(results: readonly BenchResult[]): string {
  const bySubject = new Map(results.map((result) => [`${result.scenario}|${result.subject}`, result]));
  const rows: string[][] = [];
  for (const target of TARGETS) {
    for (const mine of results) {
      if (mine.subject !== OURS || !mine.scenario.startsWith(`${target.backend},`)) continue;
      const peer = bySubject.get(`${mine.scenario}|${target.peer}`);
      if (peer === undefined) continue;
      const ratio = mine.perSecond / peer.perSecond;
      const p99Mine = mine.extra?.p99_ms;
      const p99Peer = peer.extra?.p99_ms;
      const p99Met = !target.p99 || (p99Mine !== undefined && p99Peer !== undefined && p99Mine <= p99Peer);
      rows.push([
        `≥ ${target.atLeast}x ${target.peer}${target.p99 ? ", p99 no worse" : ""}`,
        mine.scenario,
        rateOf(mine),
        rateOf(peer),
        `${ratio.toFixed(2)}x`,
        `${ms(p99Mine)} / ${ms(p99Peer)}`,
        ratio >= target.atLeast && p99Met ? "met" : "**missed**",
      ]);
    }
  }
  if (rows.length === 0) return "";
  const header = ["target", "scenario", "ours/s", "peer/s", "ratio", "p99 ms ours / peer", ""];
  const lines = [header, header.map(() => "---"), ...rows].map((cells) => `| ${cells.join(" | ")} |`);
  return `Issue 14 targets (channel-layers ÷ peer, deliveries/s):\n\n${lines.join("\n")}`;
}

/**
 * The run as issue 14's table: one row per subject, backend, processes and room size, rounds and
 * burst side by side, with the server's CPU microseconds per delivery (load-independent enough
 * to compare before and after).
 */
function compact(results: readonly BenchResult[]): string {
  const rows = new Map<string, { rounds?: BenchResult; burst?: BenchResult }>();
  for (const result of results) {
    const [backend, processes, clients, workload] = result.scenario.split(", ");
    // "1 process" and "200 clients" become 1 and 200: the header names them.
    const key = [result.subject, backend, processes?.split(" ")[0], clients?.split(" ")[0]].join(" | ");
    const row = rows.get(key) ?? {};
    if (workload === "rounds") row.rounds = result;
    else if (workload === "burst") row.burst = result;
    rows.set(key, row);
  }
  const cells = (result: BenchResult | undefined) =>
    result === undefined ? ["-", "-"] : [rateOf(result), `${ms(result.extra?.p50_ms)} / ${ms(result.extra?.p99_ms)}`];
  const cpu = (result: BenchResult | undefined) => (result?.extra?.server_us ?? Number.NaN).toFixed(1);
  const header = [
    "subject",
    "layer",
    "processes",
    "clients",
    "rounds/s",
    "p50 / p99 ms",
    "burst/s",
    "p50 / p99 ms",
    "server µs/delivery (rounds, burst)",
  ];
  const lines = [...rows].map(([key, row]) => [
    key,
    ...cells(row.rounds),
    ...cells(row.burst),
    `${cpu(row.rounds)}, ${cpu(row.burst)}`,
  ]);
  return [header, header.map(() => "---"), ...lines].map((line) => `| ${line.join(" | ")} |`).join("\n");
}

export function runtimeReport(results: readonly BenchResult[]): string {
  if (results.length === 0) return "";
  return [`Deliveries/s by subject (issue 14's layout):`, "", compact(results), "", targets(results)].join("\n");
}
