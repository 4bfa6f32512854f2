import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** The parent and process group of a running process. */
export interface ProcessLineage {
  parent: number;
  group: number;
}

/** `pid`'s parent and process group, or undefined when there is no such process (from /proc, else `ps`). */
export function lineageOf(pid: number): ProcessLineage | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // After the command name (which may hold spaces and parentheses): state, ppid, pgrp.
    const [, parent, group] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { parent: Number(parent), group: Number(group) };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT" && process.platform === "linux") return undefined;
  }
  try {
    const out = execFileSync("ps", ["-o", "ppid=,pgid=", "-p", String(pid)], { encoding: "utf8", stdio: "pipe" });
    const [parent, group] = out.trim().split(/\s+/).map(Number);
    return parent === undefined || group === undefined ? undefined : { parent, group };
  } catch {
    return undefined;
  }
}

/**
 * The one place this package sends signals. `target` is a process group we created (negative) or
 * a process of a server we started; 0, -1 and 1 would reach our own group, every process we may
 * signal, or init, so they are refused outright.
 */
export function sendSignal(target: number, signal: NodeJS.Signals): boolean {
  if (!Number.isInteger(target) || Math.abs(target) <= 1) {
    throw new Error(`Refusing to signal ${target}: not a process or process group this package started`);
  }
  try {
    process.kill(target, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw error;
  }
}

/** A process as /proc names it: its pid and start time, so a reused pid is never taken for it. */
export interface ProcessIdentity {
  pid: number;
  startedAt: string;
}

function identityOf(pid: number): ProcessIdentity | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // A zombie has exited: only its parent's wait() is missing, which may never come for an orphan.
    if (fields[0] === "Z") return undefined;
    // Field 22 of stat (starttime) is the 20th after the command name.
    const startedAt = fields[19];
    return startedAt === undefined ? undefined : { pid, startedAt };
  } catch {
    return undefined;
  }
}

/** The children of `parent` (Linux /proc; elsewhere none are known). */
export function childrenOf(parent: number): ProcessIdentity[] {
  if (process.platform !== "linux") return [];
  const children: ProcessIdentity[] = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 1) continue;
    if (lineageOf(pid)?.parent !== parent) continue;
    const identity = identityOf(pid);
    if (identity) children.push(identity);
  }
  return children;
}

/** Whether the process `identity` names is still running (not merely its pid reused). */
export function stillRunning(identity: ProcessIdentity): boolean {
  return identityOf(identity.pid)?.startedAt === identity.startedAt;
}
