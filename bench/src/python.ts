import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Measurement } from "./harness.js";

/** The Debian python3 that has Django Channels and channels_redis installed. */
export const PYTHON = "/usr/bin/python3";
const SCRIPTS = join(dirname(fileURLToPath(import.meta.url)), "..", "python");

/** Why the Python peer cannot run (missing python3 or module), or undefined. */
export async function pythonUnavailable(module: string): Promise<string | undefined> {
  if (!existsSync(PYTHON)) return `${PYTHON} is not installed`;
  try {
    await runPythonRaw(["-c", `import ${module}`]);
    return undefined;
  } catch {
    return `python module ${module} is missing (apt-get install python3-django-channels python3-channels-redis)`;
  }
}

function runPythonRaw(args: string[], env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      PYTHON,
      args,
      { env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${PYTHON} ${args.join(" ")} failed: ${stderr || error.message}`));
        else resolve(stdout);
      },
    );
  });
}

/**
 * Runs bench/python/<script> with `args`; the script prints one JSON object
 * `{"operations": n, "seconds": s, ...extra}` as its last line of output.
 */
export async function runPythonCase(
  script: string,
  args: string[],
  env?: Record<string, string>,
): Promise<Measurement> {
  const output = await runPythonRaw([join(SCRIPTS, script), ...args], env);
  const last = output.trim().split("\n").pop() ?? "";
  const { operations, seconds, ...extra } = JSON.parse(last) as Record<string, number>;
  return { operations: operations as number, seconds: seconds as number, extra };
}
