import { readdirSync, readFileSync } from "node:fs";

/**
 * CPU time of other processes, from /proc (Linux): the server and the backend, not only the
 * bench's own clients, so a case can say how many microseconds of each side's CPU a delivery
 * took. Elsewhere every reading is NaN and the columns read "NaN".
 */
const TICKS_PER_SECOND = 100;

/** user + system CPU seconds of `pid`, or NaN when it cannot be read (gone, not Linux). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

/**
 * Starts counting the CPU time of `pids`; the function returned gives the seconds used since, by
 * the processes still there (a PostgreSQL backend may end meanwhile).
 */
export function cpuMeter(pids: readonly number[]): () => number {
  const before = new Map(pids.map((pid) => [pid, cpuSeconds(pid)]));
  return () => {
    let used = 0;
    for (const [pid, start] of before) {
      const now = cpuSeconds(pid);
      if (Number.isFinite(now) && Number.isFinite(start)) used += now - start;
    }
    return used;
  };
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

/**
 * The processes serving `port` that a throwaway backend consists of: every process whose command
 * line names the port (redis-server, nats-server, postgres's postmaster), with its children
 * (postgres's backends). The bench started those servers itself; this only reads /proc.
 */
export function processesServingPort(port: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
  const portPattern = new RegExp(`(^|[^0-9])${port}($|[^0-9])`);
  const roots = new Set<number>();
  for (const entry of entries) {
    try {
      const commandLine = readFileSync(`/proc/${entry}/cmdline`, "latin1").replaceAll("\0", " ");
      if (/(redis-server|nats-server|postgres)/.test(commandLine) && portPattern.test(commandLine)) {
        roots.add(Number(entry));
      }
    } catch {
      // A process that ended while we looked.
    }
  }
  const found = new Set(roots);
  for (const entry of entries) {
    const parent = parentOf(Number(entry));
    if (parent !== undefined && roots.has(parent)) found.add(Number(entry));
  }
  return [...found];
}
