import { type BenchResult, OURS } from "./harness.js";

function formatRate(value: number): string {
  if (!Number.isFinite(value)) return "-";
  return value >= 100 ? Math.round(value).toLocaleString("en-US") : value.toFixed(1);
}

/**
 * The results as a Markdown table: one row per subject and scenario, and for every other subject
 * the ratio channel-layers / subject (above 1: we are faster).
 */
export function formatTable(results: readonly BenchResult[]): string {
  const ours = new Map<string, number>();
  for (const result of results) {
    if (result.subject === OURS) ours.set(`${result.suite}/${result.scenario}`, result.perSecond);
  }
  const rows = results.map((result) => {
    const mine = ours.get(`${result.suite}/${result.scenario}`);
    const ratio = result.subject === OURS || mine === undefined ? "" : `${(mine / result.perSecond).toFixed(1)}x`;
    const extra = Object.entries(result.extra ?? {})
      .map(([key, value]) => `${key}=${Number.isInteger(value) ? value : value.toFixed(2)}`)
      .join(" ");
    return [result.suite, result.scenario, result.subject, formatRate(result.perSecond), ratio, extra];
  });
  const header = ["suite", "scenario", "subject", "msg/s", "channel-layers ÷ subject", "extra"];
  const lines = [header, header.map(() => "---"), ...rows].map((cells) => `| ${cells.join(" | ")} |`);
  return lines.join("\n");
}
