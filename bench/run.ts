import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { BenchCase, BenchResult, BenchSuite } from "./src/harness.js";
import { medianTrial, scenarioBlocks } from "./src/repeat.js";
import { formatTable } from "./src/report.js";

// pnpm bench [suite ...] [--quick] [--scenario name]... [--subject name]... [--cpu-prof dir]: every
// suite in bench/suites/, or the named ones. --scenario and --subject keep the cases of that exact
// name, or, when no case has it, every case whose name contains it; each may be given more than once.
// --repeat n runs each scenario's cases in turn n times and reports each case's median trial.
const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const WITH_VALUE = ["--scenario", "--subject", "--cpu-prof", "--repeat"];
/** Every value given to `flag`: --scenario and --subject may be repeated. */
const flagValues = (flag: string) =>
  args.flatMap((arg, i) => (arg === flag && args[i + 1] !== undefined ? [args[i + 1] as string] : []));
const quick = args.includes("--quick");
const scenarioFilters = flagValues("--scenario");
const subjectFilters = flagValues("--subject");
const profileDir = flagValues("--cpu-prof")[0];
const repeat = Math.max(1, Math.floor(Number(flagValues("--repeat")[0] ?? 1)) || 1);
const cpuProfileDir = profileDir === undefined ? undefined : resolve(profileDir);
const wanted = args.filter((arg, i) => !arg.startsWith("--") && !WITH_VALUE.includes(args[i - 1] ?? ""));

async function loadSuites(): Promise<BenchSuite[]> {
  const files = readdirSync(join(here, "suites"))
    .filter((file) => file.endsWith(".ts"))
    .sort();
  const suites: BenchSuite[] = [];
  for (const file of files) {
    const module = (await import(pathToFileURL(join(here, "suites", file)).href)) as { default: BenchSuite };
    if (wanted.length === 0 || wanted.includes(module.default.name)) suites.push(module.default);
  }
  return suites;
}

function matcher(filters: string[], names: string[]): (name: string) => boolean {
  if (filters.length === 0) return () => true;
  const tests = filters.map((filter) =>
    names.includes(filter) ? (name: string) => name === filter : (name: string) => name.includes(filter),
  );
  return (name) => tests.some((test) => test(name));
}

/** Runs one trial of `benchCase`, printing its rate; the error when it failed. */
async function runTrial(suiteName: string, benchCase: BenchCase, label: string): Promise<BenchResult | Error> {
  // The machine is shared: the 1-minute load average before each case goes beside its figure.
  const load = loadavg()[0] as number;
  process.stderr.write(
    `${suiteName} / ${benchCase.scenario} / ${benchCase.subject}${label} (load ${load.toFixed(1)}) ... `,
  );
  try {
    const measurement = await benchCase.run();
    const perSecond = measurement.operations / measurement.seconds;
    process.stderr.write(`${Math.round(perSecond).toLocaleString("en-US")} msg/s\n`);
    return {
      suite: suiteName,
      scenario: benchCase.scenario,
      subject: benchCase.subject,
      perSecond,
      ...measurement,
      extra: { ...measurement.extra, load },
    };
  } catch (error) {
    process.stderr.write(`failed: ${(error as Error).message}\n`);
    return error as Error;
  }
}

if (cpuProfileDir) mkdirSync(cpuProfileDir, { recursive: true });
const results: BenchResult[] = [];
const skipped: string[] = [];
const summaries: string[] = [];
for (const suite of await loadSuites()) {
  const reason = await suite.unavailable?.();
  if (reason) {
    skipped.push(`${suite.name}: ${reason}`);
    console.error(`skip ${suite.name}: ${reason}`);
    continue;
  }
  const ran: BenchResult[] = [];
  try {
    const cases = await suite.cases({ quick, cpuProfileDir });
    const scenarioMatches = matcher(
      scenarioFilters,
      cases.map((each) => each.scenario),
    );
    const subjectMatches = matcher(
      subjectFilters,
      cases.map((each) => each.subject),
    );
    const kept = cases.filter((benchCase) => scenarioMatches(benchCase.scenario) && subjectMatches(benchCase.subject));
    for (const block of scenarioBlocks(kept)) {
      const trials = new Map<BenchCase, BenchResult[]>(block.map((benchCase) => [benchCase, []]));
      for (let trial = 1; trial <= repeat; trial++) {
        for (const benchCase of block) {
          const done = trials.get(benchCase) as BenchResult[];
          // A case that failed once is not tried again: its reason is already in skipped.
          if (done.length < trial - 1) continue;
          const result = await runTrial(suite.name, benchCase, repeat > 1 ? ` (trial ${trial} of ${repeat})` : "");
          if (result instanceof Error)
            skipped.push(`${suite.name}/${benchCase.scenario}/${benchCase.subject}: ${result.message}`);
          else done.push(result);
        }
      }
      for (const done of trials.values()) {
        if (done.length === 0) continue;
        const result = medianTrial(done);
        ran.push(result);
        results.push(result);
      }
    }
  } finally {
    await suite.teardown?.();
  }
  const summary = suite.summarize?.(ran);
  if (summary) summaries.push(summary);
}

console.log(formatTable(results));
for (const summary of summaries) console.log(`\n${summary}`);
if (skipped.length > 0) console.log(`\nNot measured:\n${skipped.map((line) => `- ${line}`).join("\n")}`);
mkdirSync(join(here, "results"), { recursive: true });
const report = { date: new Date().toISOString(), node: process.version, quick, repeat, results, skipped };
writeFileSync(join(here, "results", "latest.json"), `${JSON.stringify(report, null, 2)}\n`);
console.log(`\nWrote bench/results/latest.json`);
process.exit(0);
