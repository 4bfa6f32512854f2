import { SUBJECTS } from "./chat-servers.js";
import { type BenchResult, OURS } from "./harness.js";

/**
 * Issue 14's targets, read off one `pnpm bench runtime` run: each row is channel-layers ÷ a peer
 * on one scenario, with the p99 latencies beside it (the Socket.IO targets also want our p99 no
 * worse than theirs).
 */
const TARGETS = [
  { backend: "redis", peer: SUBJECTS.socketIoRedis, atLeast: 1, p99: true },
  { backend: "redis", peer: SUBJECTS.daphneRedis, atLeast: 10, p99: false },
  { backend: "memory", peer: SUBJECTS.socketIoMemory, atLeast: 1, p99: false },
];

const rate = (value: number) => Math.round(value).toLocaleString("en-US");
const ms = (value: number | undefined) => (value === undefined ? "-" : value.toFixed(1));

export function runtimeTargets(results: readonly BenchResult[]): string {
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
        rate(mine.perSecond),
        rate(peer.perSecond),
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
