/** What one measured run did: `operations` (messages delivered, unless a case says otherwise) in `seconds`. */
export interface Measurement {
  operations: number;
  seconds: number;
  /** Further figures worth a column, e.g. latency percentiles in milliseconds. */
  extra?: Record<string, number>;
}

/** One subject doing one scenario: ours, Django Channels, or a raw client doing the same work. */
export interface BenchCase {
  scenario: string;
  /** "channel-layers", "django-channels", "raw ioredis", ... */
  subject: string;
  run(): Promise<Measurement>;
}

/** A family of cases sharing a setup, e.g. "memory" or "redis"; one file in bench/suites/ default-exports one. */
export interface BenchSuite {
  name: string;
  /** Why the suite cannot run here (a missing server, no python3), or undefined when it can. */
  unavailable?(): Promise<string | undefined>;
  /** The cases. */
  cases(options: SuiteOptions): BenchCase[] | Promise<BenchCase[]>;
  /** Runs once after the suite's cases. */
  teardown?(): Promise<void>;
  /** Markdown printed after the table: the suite's targets, read off this run's results. */
  summarize?(results: readonly BenchResult[]): string;
}

export interface SuiteOptions {
  /** Smaller sizes: a smoke run. */
  quick: boolean;
  /** `--cpu-prof <dir>`: suites that start servers run them under `node --cpu-prof` writing here. */
  cpuProfileDir?: string;
}

/** A finished case, as printed and written to JSON. */
export interface BenchResult extends Measurement {
  suite: string;
  scenario: string;
  subject: string;
  perSecond: number;
}

/** The subject every ratio is taken for. */
export const OURS = "channel-layers";

/** Times `work`, which reports how many operations it did. */
export async function measure(work: () => Promise<number>): Promise<Measurement> {
  const started = process.hrtime.bigint();
  const operations = await work();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { operations, seconds };
}

/**
 * One unmeasured warm-up run, then the fastest of `runs`: this 2-core machine slows single runs,
 * and only the fastest approaches what the subject itself costs. `run` returns its seconds.
 */
export async function warmBest(operations: number, run: () => Promise<number>, runs = 3): Promise<Measurement> {
  await run();
  let fastest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) fastest = Math.min(fastest, await run());
  return { operations, seconds: fastest };
}

/** Percentile (0..100) of already sorted numbers. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

/**
 * `promise`, or a rejection naming `what` after `ms`: a case that lost a message fails with a
 * reason instead of waiting forever, and its own cleanup still runs.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
