import type { BenchCase, BenchResult } from "./harness.js";

/**
 * `--repeat n`: the cases of one scenario run in turn n times (A B C, A B C, ...), so every subject
 * meets the same spells of a shared machine's load, and each case reports its median trial.
 */

/** Consecutive cases with the same scenario: the block that is repeated in turn. */
export function scenarioBlocks(cases: readonly BenchCase[]): BenchCase[][] {
  const blocks: BenchCase[][] = [];
  for (const benchCase of cases) {
    const last = blocks.at(-1);
    if (last !== undefined && last[0]?.scenario === benchCase.scenario) last.push(benchCase);
    else blocks.push([benchCase]);
  }
  return blocks;
}

/**
 * The trial with the median rate (the lower middle one for an even count), whole, so that its
 * latencies and CPU figures belong to the same trial; with several trials its extra columns gain
 * `runs` and the slowest and fastest rate.
 */
export function medianTrial(trials: readonly BenchResult[]): BenchResult {
  const sorted = [...trials].sort((a, b) => a.perSecond - b.perSecond);
  const median = sorted[Math.floor((sorted.length - 1) / 2)];
  if (median === undefined) throw new Error("no trials");
  if (trials.length === 1) return median;
  const rates = { runs: trials.length, min_per_s: sorted[0]?.perSecond, max_per_s: sorted.at(-1)?.perSecond };
  return { ...median, extra: { ...median.extra, ...(rates as Record<string, number>) } };
}
