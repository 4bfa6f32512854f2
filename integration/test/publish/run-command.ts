import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** What a finished command printed. */
export interface CommandOutput {
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Killed (SIGTERM, this child only) after this long; the run then fails. Default 5 minutes. */
  timeoutMs?: number;
}

/** Runs a command to completion; a non-zero exit rejects with everything it printed. */
export function run(command: string, args: readonly string[], options: RunOptions): Promise<CommandOutput> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { cwd: options.cwd, env: options.env, timeout: options.timeoutMs ?? 300_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          const shown = [command, ...args].join(" ");
          reject(new Error(`\`${shown}\` in ${options.cwd} failed (${error.message}):\n${stdout}\n${stderr}`));
        } else {
          resolve({ stdout, stderr });
        }
      },
    );
  });
}

/**
 * The environment for package-manager commands: ours without the npm_* variables a `pnpm test` run
 * sets (they would override the temp projects' .npmrc), with `pnpm` on PATH as a shim to the
 * pinned version (lerna runs `pnpm`), and a git identity for the commits lerna makes.
 */
export function commandEnvironment(shimDir: string, pnpmVersion: string): NodeJS.ProcessEnv {
  mkdirSync(shimDir, { recursive: true });
  const shim = join(shimDir, "pnpm");
  writeFileSync(shim, `#!/bin/sh\nexec npx --yes pnpm@${pnpmVersion} "$@"\n`);
  chmodSync(shim, 0o755);
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^npm_/i.test(key)) env[key] = value;
  return {
    ...env,
    PATH: `${shimDir}:${process.env.PATH ?? ""}`,
    GIT_AUTHOR_NAME: "release rehearsal",
    GIT_AUTHOR_EMAIL: "release@example.invalid",
    GIT_COMMITTER_NAME: "release rehearsal",
    GIT_COMMITTER_EMAIL: "release@example.invalid",
    // A developer's signing setup must not stop the rehearsal's commits and tags.
    GIT_CONFIG_COUNT: "2",
    GIT_CONFIG_KEY_0: "commit.gpgsign",
    GIT_CONFIG_VALUE_0: "false",
    GIT_CONFIG_KEY_1: "tag.gpgsign",
    GIT_CONFIG_VALUE_1: "false",
    NO_UPDATE_NOTIFIER: "1",
  };
}
