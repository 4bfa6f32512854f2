import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { BenchResult, BenchSuite } from "./src/harness.js";
import { formatTable } from "./src/report.js";

// pnpm bench [suite ...] [--quick] [--scenario name]: every suite in bench/suites/, or the named ones.
const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes("--quick");
const scenarioIndex = args.indexOf("--scenario");
const scenarioFilter = scenarioIndex === -1 ? undefined : args[scenarioIndex + 1];
const wanted = args.filter((arg, i) => !arg.startsWith("--") && args[i - 1] !== "--scenario");

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

const results: BenchResult[] = [];
const skipped: string[] = [];
for (const suite of await loadSuites()) {
  const reason = await suite.unavailable?.();
  if (reason) {
    skipped.push(`${suite.name}: ${reason}`);
    console.error(`skip ${suite.name}: ${reason}`);
    continue;
  }
  try {
    for (const benchCase of await suite.cases({ quick })) {
      if (scenarioFilter && benchCase.scenario !== scenarioFilter) continue;
      process.stderr.write(`${suite.name} / ${benchCase.scenario} / ${benchCase.subject} ... `);
      try {
        const measurement = await benchCase.run();
        const perSecond = measurement.operations / measurement.seconds;
        results.push({
          suite: suite.name,
          scenario: benchCase.scenario,
          subject: benchCase.subject,
          perSecond,
          ...measurement,
        });
        process.stderr.write(`${Math.round(perSecond).toLocaleString("en-US")} msg/s\n`);
      } catch (error) {
        process.stderr.write(`failed: ${(error as Error).message}\n`);
        skipped.push(`${suite.name}/${benchCase.scenario}/${benchCase.subject}: ${(error as Error).message}`);
      }
    }
  } finally {
    await suite.teardown?.();
  }
}

console.log(formatTable(results));
if (skipped.length > 0) console.log(`\nNot measured:\n${skipped.map((line) => `- ${line}`).join("\n")}`);
mkdirSync(join(here, "results"), { recursive: true });
const report = { date: new Date().toISOString(), node: process.version, quick, results, skipped };
writeFileSync(join(here, "results", "latest.json"), `${JSON.stringify(report, null, 2)}\n`);
console.log(`\nWrote bench/results/latest.json`);
process.exit(0);
