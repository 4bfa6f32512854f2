import { countingFields } from "./counts.js";
import { KINDS } from "./protocol.js";
import type { ModeRun } from "./scenario.js";

const HEADER = [
  "backend",
  "kind",
  "promise",
  "sent",
  "resolved",
  "rejected",
  "delivered",
  "rejected yet delivered",
  "lost",
  "duplicated",
  "reordered",
  "lost counted in stats",
];

function codes(rejectedCodes: Record<string, number>): string {
  const entries = Object.entries(rejectedCodes);
  if (entries.length === 0) return "0";
  const total = entries.reduce((sum, [, count]) => sum + count, 0);
  const named = entries.map(([code, count]) => (entries.length === 1 ? code : `${count} ${code}`)).join(", ");
  return `${total} (${named})`;
}

function row(cells: readonly (string | number)[]): string {
  return `| ${cells.join(" | ")} |`;
}

/** The matrix as a Markdown table, one row per backend × kind, in the order of `runs`. */
export function faultTable(runs: readonly ModeRun[]): string {
  const lines = [row(HEADER), row(HEADER.map((_, index) => (index < 3 ? "---" : "---:")))];
  for (const run of runs) {
    for (const kind of KINDS) {
      const promise = run.mode.kinds[kind];
      const counts = run.counts[kind];
      const counted =
        promise.loss.rule === "counted" || counts.countedInStats > 0
          ? `${counts.countedInStats} (${countingFields(promise.loss).join(" + ")})`
          : "not countable";
      lines.push(
        row([
          run.mode.name,
          kind,
          promise.says,
          counts.sent,
          counts.resolved,
          codes(counts.rejectedCodes),
          counts.delivered,
          counts.deliveredThoughRejected,
          counts.lost.length,
          counts.duplicated,
          counts.reordered,
          counted,
        ]),
      );
    }
  }
  return lines.join("\n");
}
