import { execFileSync } from "node:child_process";
import { findBinary } from "./binaries.js";

let setpriv: string | null | undefined;

function findSetpriv(): string | null {
  if (process.platform !== "linux") return null;
  const found = findBinary("setpriv");
  if (!found) return null;
  try {
    execFileSync(found, ["--pdeathsig", "SIGKILL", "--", "true"], { stdio: "ignore" });
    return found;
  } catch {
    return null;
  }
}

/**
 * The command line that runs `command` so that the kernel kills it when the process that started
 * it dies, even by SIGKILL, when no exit handler can run (a vitest worker that is killed): on
 * Linux `setpriv --pdeathsig SIGKILL -- command ...`, which execs the server under the same pid.
 * Elsewhere, or without util-linux's setpriv, the command as it is.
 */
export function diesWithParent(command: string, args: readonly string[]): { command: string; args: string[] } {
  if (setpriv === undefined) setpriv = findSetpriv();
  if (setpriv === null) return { command, args: [...args] };
  return { command: setpriv, args: ["--pdeathsig", "SIGKILL", "--", command, ...args] };
}
