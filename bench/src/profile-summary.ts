// Where a server's CPU time went, from a V8 .cpuprofile (`node --cpu-prof`): self time by
// function, by file and by package, top 20 each.
//
//   tsx bench/src/profile-summary.ts <file.cpuprofile | directory> [--scenario text] [--top n] [--whole]
//
// `pnpm bench runtime --cpu-prof <dir>` writes the servers' profiles into <dir> together with
// windows.jsonl, the measured part of each case; the summary counts only samples inside the
// windows of the profile's process (those whose scenario holds --scenario's text), so start-up
// and warm-up are left out and each figure can be divided by the deliveries made. --whole
// counts every sample.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}
/** One measured case, as bench/suites/runtime.ts appends it to windows.jsonl. */
interface MeasuredWindow {
  scenario: string;
  subject: string;
  pids: number[];
  fromUs: number;
  toUs: number;
  deliveries: number;
}

const REPOSITORY = fileURLToPath(new URL("../../", import.meta.url));

/** V8's own entries: not code of any file. */
const SPECIAL = new Set(["(idle)", "(program)", "(garbage collector)", "(root)"]);

function fileOf(url: string): string {
  if (url === "") return "(native code)";
  const path = url.startsWith("file://") ? fileURLToPath(url) : url;
  const inModules = path.lastIndexOf("/node_modules/");
  if (inModules !== -1) return path.slice(inModules + "/node_modules/".length);
  return path.startsWith(REPOSITORY) ? path.slice(REPOSITORY.length) : path;
}

function packageOf(frame: CallFrame): string {
  if (SPECIAL.has(frame.functionName)) return frame.functionName;
  const file = fileOf(frame.url);
  if (frame.url === "") return "(native code: V8 builtins, system calls)";
  if (file.startsWith("node:")) return "node (core modules)";
  if (frame.url.includes("/node_modules/")) {
    const parts = file.split("/");
    return (file.startsWith("@") ? parts.slice(0, 2) : parts.slice(0, 1)).join("/");
  }
  const workspace = /^(packages|examples)\/([^/]+)\//.exec(file);
  if (workspace) return workspace[1] === "packages" ? `@channel-layers/${workspace[2]}` : `examples/${workspace[2]}`;
  return file.split("/").slice(0, 2).join("/");
}

function functionOf(frame: CallFrame): string {
  if (SPECIAL.has(frame.functionName) || frame.url === "") return frame.functionName || "(anonymous)";
  // tsx puts a TypeScript file's code on one line: a line number there says nothing.
  const line = frame.lineNumber > 0 ? `:${frame.lineNumber + 1}` : "";
  return `${frame.functionName || "(anonymous)"} ${fileOf(frame.url)}${line}`;
}

/** Self time (µs) per node id, counting only samples inside `windows` (all of them when empty). */
function selfTimes(profile: CpuProfile, windows: readonly [number, number][]): Map<number, number> {
  const times = new Map<number, number>();
  let at = profile.startTime;
  const stamps = profile.timeDeltas.map((delta) => {
    at += delta;
    return at;
  });
  for (let i = 0; i < profile.samples.length; i++) {
    const stamp = stamps[i] as number;
    if (windows.length > 0 && !windows.some(([from, to]) => stamp >= from && stamp <= to)) continue;
    const duration = (i + 1 < stamps.length ? (stamps[i + 1] as number) : profile.endTime) - stamp;
    const node = profile.samples[i] as number;
    times.set(node, (times.get(node) ?? 0) + duration);
  }
  return times;
}

function table(title: string, totals: Map<string, number>, all: number, top: number, deliveries: number): string {
  const rows = [...totals].sort((a, b) => b[1] - a[1]).slice(0, top);
  const perDelivery = deliveries > 0;
  const header = ["self ms", "%", ...(perDelivery ? ["µs/delivery"] : []), title];
  const lines = rows.map(([name, us]) => [
    (us / 1000).toFixed(1),
    ((100 * us) / all).toFixed(1),
    ...(perDelivery ? [(us / deliveries).toFixed(2)] : []),
    name.replaceAll("|", "\\|"),
  ]);
  return [header, header.map(() => "---"), ...lines].map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}

function readWindows(profilePath: string, scenario: string | undefined): MeasuredWindow[] {
  const file = join(dirname(profilePath), "windows.jsonl");
  if (!existsSync(file)) return [];
  // Node names profiles CPU.<date>.<time>.<pid>.<thread>.<sequence>.cpuprofile.
  const pid = Number(basename(profilePath).split(".")[3]);
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as MeasuredWindow)
    .filter((window) => window.pids.includes(pid) && (scenario === undefined || window.scenario.includes(scenario)));
}

function summarize(path: string, options: { scenario?: string; top: number; whole: boolean }): string {
  const profile = JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
  const windows = options.whole ? [] : readWindows(path, options.scenario);
  if (!options.whole && options.scenario !== undefined && windows.length === 0) {
    return `${basename(path)}: no measured window matches "${options.scenario}"`;
  }
  const times = selfTimes(
    profile,
    windows.map((window) => [window.fromUs, window.toUs]),
  );
  const byNode = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const [functions, files, packages] = [
    new Map<string, number>(),
    new Map<string, number>(),
    new Map<string, number>(),
  ];
  let all = 0;
  let idle = 0;
  for (const [id, us] of times) {
    const frame = byNode.get(id) as CallFrame;
    all += us;
    if (frame.functionName === "(idle)") idle += us;
    const add = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + us);
    add(functions, functionOf(frame));
    add(files, SPECIAL.has(frame.functionName) ? frame.functionName : fileOf(frame.url));
    add(packages, packageOf(frame));
  }
  // Every delivery of the window, whichever process made it: with 2 servers, each profile shows its share.
  const deliveries = windows.reduce((sum, window) => sum + window.deliveries, 0);
  if (all > 0 && idle / all > 0.99)
    return `## ${basename(path)}\n\nIdle throughout (a helper thread, such as tsx's module loader).`;
  const scope =
    windows.length === 0
      ? "the whole profile"
      : windows.map((window) => `${window.scenario} / ${window.subject}`).join("; ");
  return [
    `## ${basename(path)}`,
    "",
    `Samples in ${scope}: ${(all / 1000).toFixed(0)} ms, of which idle ${((100 * idle) / all).toFixed(1)}%` +
      (deliveries > 0
        ? `; ${deliveries.toLocaleString("en-US")} deliveries, ${((all - idle) / deliveries).toFixed(2)} µs busy per delivery.`
        : "."),
    "",
    table("package", packages, all, options.top, deliveries),
    "",
    table("file", files, all, options.top, deliveries),
    "",
    table("function", functions, all, options.top, deliveries),
  ].join("\n");
}

const args = process.argv.slice(2);
const flag = (name: string) => {
  const index = args.indexOf(name);
  return index === -1 ? undefined : args[index + 1];
};
const target = args.find((arg, i) => !arg.startsWith("--") && !["--scenario", "--top"].includes(args[i - 1] ?? ""));
if (target === undefined) {
  console.error("usage: profile-summary.ts <file.cpuprofile | directory> [--scenario text] [--top n] [--whole]");
  process.exit(2);
}
const paths = statSync(target).isDirectory()
  ? readdirSync(target)
      .filter((name) => name.endsWith(".cpuprofile"))
      .sort()
      .map((name) => join(target, name))
  : [target];
const options = { scenario: flag("--scenario"), top: Number(flag("--top") ?? 20), whole: args.includes("--whole") };
console.log(paths.map((path) => summarize(path, options)).join("\n\n"));
