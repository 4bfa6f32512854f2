import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { ChannelLayerSetting } from "@channel-layers/runtime";
import { expect } from "vitest";

// The cross-process presence check of issue 15: two processes on one layer each track a key, one
// is SIGKILLed, and the survivor must see its entry go, with one leave diff, within the
// documented time (presenceTimeoutMs + presenceHeartbeatMs). Every networked backend runs it.

const CHILD = fileURLToPath(new URL("../fixtures/presence-process.ts", import.meta.url));
const INTEGRATION = fileURLToPath(new URL("..", import.meta.url));

/** What both processes make their layer from. */
export type ProcessLayerSource =
  /** A setting for createChannelLayer (URL or { backend, url, options }); the timings are added to it. */
  { setting: ChannelLayerSetting };

export interface ProcessDeathOptions {
  layer: ProcessLayerSource;
  /** Short, so the test is quick; the documented bound is presenceTimeoutMs + presenceHeartbeatMs. */
  presenceHeartbeatMs?: number;
  presenceTimeoutMs?: number;
  /** Time allowed beyond the documented bound, for a loaded machine. Default 5000 ms. */
  slackMs?: number;
}

export interface ProcessDeathResult {
  /** From the SIGKILL to the survivor's leave diff. */
  leaveAfterMs: number;
  /** presenceTimeoutMs + presenceHeartbeatMs. */
  documentedBoundMs: number;
}

type Line = { ready?: string; message?: Record<string, unknown>; list?: Record<string, unknown>; error?: string };

/** One child process of the check, reading its JSON lines. */
class LayerProcess {
  readonly child: ChildProcess;
  readonly lines: Line[] = [];
  output = "";
  private readonly watchers = new Set<() => void>();

  constructor(
    source: unknown,
    group: string,
    readonly key: string,
  ) {
    this.child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", CHILD], {
      cwd: INTEGRATION,
      env: {
        ...process.env,
        PRESENCE_LAYER: JSON.stringify(source),
        PRESENCE_GROUP: group,
        PRESENCE_KEY: key,
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    createInterface({ input: this.child.stdout as NodeJS.ReadableStream }).on("line", (text) => {
      this.output += `${text}\n`;
      try {
        this.lines.push(JSON.parse(text) as Line);
      } catch {
        return;
      }
      for (const check of [...this.watchers]) check();
    });
    this.child.stderr?.on("data", (chunk: Buffer) => {
      this.output += chunk.toString();
    });
    this.child.on("exit", () => {
      for (const check of [...this.watchers]) check();
    });
  }

  /** The first line after `from` that `match` accepts; fails naming `what` after `timeoutMs`. */
  waitFor(what: string, match: (line: Line) => boolean, timeoutMs: number, from = 0): Promise<Line> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.watchers.delete(check);
        reject(
          new Error(
            `process ${this.child.pid} (${this.key}): no ${what} within ${timeoutMs} ms; it printed:\n${this.output}`,
          ),
        );
      }, timeoutMs);
      const check = () => {
        const found = this.lines.slice(from).find(match);
        if (found === undefined && !this.exited) return;
        clearTimeout(timer);
        this.watchers.delete(check);
        if (found !== undefined) resolve(found);
        else
          reject(
            new Error(`process ${this.child.pid} (${this.key}) exited before its ${what}; it printed:\n${this.output}`),
          );
      };
      this.watchers.add(check);
      check();
    });
  }

  /** The group's presence list, as this process sees it. */
  async list(timeoutMs: number): Promise<Record<string, unknown>> {
    const from = this.lines.length;
    this.child.stdin?.write("list\n");
    return (await this.waitFor("presence list", (line) => line.list !== undefined, timeoutMs, from)).list ?? {};
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** Sends `signal` to this child only (by its own handle), and waits for it to exit. */
  async kill(signal: NodeJS.Signals): Promise<void> {
    if (this.exited) return;
    const exited = once(this.child, "exit");
    this.child.kill(signal);
    // A process that does not end on SIGTERM within 10 s is killed.
    const timer = signal === "SIGKILL" ? undefined : setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

function withTimings(source: ProcessLayerSource, timings: Record<string, number>): unknown {
  const { setting } = source;
  if (typeof setting === "string") {
    const query = new URLSearchParams(
      Object.fromEntries(Object.entries(timings).map(([name, value]) => [name, String(value)])),
    );
    return { setting: `${setting}${setting.includes("?") ? "&" : "?"}${query}` };
  }
  return { setting: { ...setting, options: { ...setting.options, ...timings } } };
}

function leavesOf(line: Line, key: string): boolean {
  const message = line.message;
  return message?.type === "presence.diff" && Object.hasOwn((message.leaves as object) ?? {}, key);
}

/**
 * Runs the check and fails (through vitest's expect) when the killed process's entry is not gone
 * within the documented bound plus `slackMs`, or its leave diff reaches the survivor other than once.
 */
export async function checkPresenceAfterProcessDeath(options: ProcessDeathOptions): Promise<ProcessDeathResult> {
  const presenceHeartbeatMs = options.presenceHeartbeatMs ?? 200;
  // Ten heartbeats, so a loaded machine does not lapse the survivor's own entry.
  const presenceTimeoutMs = options.presenceTimeoutMs ?? 10 * presenceHeartbeatMs;
  const documentedBoundMs = presenceTimeoutMs + presenceHeartbeatMs;
  const slackMs = options.slackMs ?? 5000;
  const source = withTimings(options.layer, { presenceHeartbeatMs, presenceTimeoutMs });
  const group = `presence-death-${randomBytes(4).toString("hex")}`;
  const [victimKey, survivorKey] = ["victim", "survivor"].map((role) => `${role}-${randomBytes(3).toString("hex")}`);
  const victim = new LayerProcess(source, group, victimKey as string);
  const survivor = new LayerProcess(source, group, survivorKey as string);
  try {
    await Promise.all(
      [victim, survivor].map((one) => one.waitFor("ready", (line) => line.ready !== undefined, 30_000)),
    );
    const both = await survivor.list(10_000);
    expect(Object.keys(both).sort(), "both processes are listed before the kill").toEqual(
      [victimKey, survivorKey].sort(),
    );

    const before = survivor.lines.length;
    const killedAt = Date.now();
    await victim.kill("SIGKILL");
    await survivor.waitFor(
      `leave diff for ${victimKey}`,
      (line) => leavesOf(line, victimKey as string),
      documentedBoundMs + slackMs,
      before,
    );
    const leaveAfterMs = Date.now() - killedAt;
    expect(Object.keys(await survivor.list(10_000)), "only the survivor is listed after the leave").toEqual([
      survivorKey,
    ]);
    // A second leave would come from another sweep: give the survivor a few more heartbeats.
    await new Promise((resolve) => setTimeout(resolve, presenceHeartbeatMs * 3));
    const leaves = survivor.lines.slice(before).filter((line) => leavesOf(line, victimKey as string));
    expect(leaves, "the survivor gets the dead process's leave diff once").toHaveLength(1);
    expect(
      survivor.lines.filter((line) => line.error),
      survivor.output,
    ).toEqual([]);
    return { leaveAfterMs, documentedBoundMs };
  } finally {
    await Promise.all([victim.kill("SIGKILL"), survivor.kill("SIGTERM")]);
  }
}
