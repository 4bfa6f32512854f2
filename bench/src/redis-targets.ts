import { type BenchResult, OURS } from "./harness.js";

/** Issue 14's layer-alone targets, read off one `pnpm bench redis-layer-alone` run, with the ratio to raw ioredis beside. */
const TARGETS = [
  { scenario: "fan-out-100-local", atLeast: 5 },
  { scenario: "ping-pong", atLeast: 10 },
  { scenario: "bulk-loop", atLeast: 20 },
];

export function redisTargets(results: readonly BenchResult[]): string {
  const find = (scenario: string, subject: string) =>
    results.find((result) => result.scenario === scenario && result.subject === subject);
  const rows: string[][] = [];
  for (const target of TARGETS) {
    const mine = find(target.scenario, OURS);
    const peer = find(target.scenario, "channels_redis");
    if (mine === undefined || peer === undefined) continue;
    const ratio = mine.perSecond / peer.perSecond;
    const raw = find(target.scenario, "raw ioredis");
    rows.push([
      `${target.scenario} ≥ ${target.atLeast}x channels_redis`,
      Math.round(mine.perSecond).toLocaleString("en-US"),
      Math.round(peer.perSecond).toLocaleString("en-US"),
      `${ratio.toFixed(1)}x`,
      raw === undefined ? "-" : `${(mine.perSecond / raw.perSecond).toFixed(2)}x`,
      ratio >= target.atLeast ? "met" : "**missed**",
    ]);
  }
  if (rows.length === 0) return "";
  const header = ["target (issue 14)", "ours/s", "channels_redis/s", "ratio", "÷ raw ioredis", ""];
  const lines = [header, header.map(() => "---"), ...rows].map((cells) => `| ${cells.join(" | ")} |`);
  return `Issue 14 layer-alone targets:\n\n${lines.join("\n")}`;
}
