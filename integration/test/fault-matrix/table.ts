import { countingFields } from "./counts.js";
import { KINDS, type Kind } from "./protocol.js";
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

/** "5 (lostSends 3 + unconfirmedSends 2)": the fields that count a kind's losses, sender's and receiver's. */
function countedBreakdown(run: ModeRun, kind: Kind, fields: readonly string[]): string {
  const parts: string[] = [];
  for (const field of fields) {
    const value = (run.sends[kind].stats?.[field] ?? 0) + (run.receives[kind].stats?.[field] ?? 0);
    if (value > 0 || fields.length === 1) parts.push(`${field} ${value}`);
  }
  return `${run.counts[kind].countedInStats} (${parts.join(" + ") || fields.join(", ")})`;
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
          ? countedBreakdown(run, kind, countingFields(promise.loss))
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
