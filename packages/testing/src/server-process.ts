import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { diesWithParent } from "./parent-death.js";
import { childrenOf, lineageOf, type ProcessIdentity, sendSignal, stillRunning } from "./process-group.js";

/** How to run one throwaway server; `ready` resolves once it answers. */
export interface ServerCommand {
  command: string;
  args: string[];
  /** Run as this user when we are root: PostgreSQL refuses to run as root. */
  user?: { uid: number; gid: number };
  ready(): Promise<void>;
  /** The signal for a clean stop; default SIGTERM (PostgreSQL's fast shutdown is SIGINT). */
  stopSignal?: NodeJS.Signals;
}

/** Signals after which kill() waits for the server to be gone. */
const ENDING_SIGNALS: ReadonlySet<string> = new Set(["SIGKILL", "SIGTERM", "SIGINT", "SIGQUIT", "SIGABRT"]);
const EXIT_TIMEOUT_MS = 30_000;

const running = new Set<ServerProcess>();
// A test run that exits must not leave servers behind: end every process group still ours.
const killAllNow = () => {
  for (const server of running) server.killNow();
};

/**
 * A server process we started and own. It runs in a session and process group of its own
 * (detached: setsid), so a signal to the group reaches it and the children that stay in its group,
 * and nothing else. (PostgreSQL's backends call setsid themselves; they exit when they see the
 * postmaster die.) Signals are only sent while the child has not been reaped: until then its pid,
 * and so its process group id, cannot have been given to another process. The server dies with
 * the process that started it: through an exit handler, and on Linux through the kernel's
 * parent-death signal when that process is killed outright.
 */
export class ServerProcess {
  private child: ChildProcess | undefined;
  private output = "";

  constructor(private readonly recipe: ServerCommand) {}

  get pid(): number | undefined {
    return this.isRunning ? this.child?.pid : undefined;
  }

  /** True from spawn until Node has reaped the child. */
  get isRunning(): boolean {
    const child = this.child;
    return child?.pid !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** The last few KB the server wrote, for error messages. */
  get recentOutput(): string {
    return this.output;
  }

  async start(): Promise<void> {
    if (this.isRunning) throw new Error(`${this.recipe.command} is already running`);
    const { command, args } = diesWithParent(this.recipe.command, this.recipe.args);
    const child = spawn(command, args, {
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      ...(this.recipe.user && process.getuid?.() === 0 ? this.recipe.user : {}),
    });
    this.child = child;
    this.output = "";
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-4000);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    const failed = new Promise<never>((_, reject) => {
      child.once("error", reject);
      child.once("exit", (code, signal) => {
        reject(
          new Error(`${this.recipe.command} exited (${signal ?? `code ${code}`}) while starting:\n${this.output}`),
        );
      });
    });
    failed.catch(() => undefined);
    if (child.pid !== undefined) this.track();
    child.once("exit", () => this.untrack());
    try {
      await Promise.race([this.recipe.ready(), failed]);
    } catch (error) {
      await this.kill("SIGKILL");
      throw error;
    }
  }

  /**
   * Sends `signal` to the server's process group, as a crash (SIGKILL, the default) or an
   * operator would; for ending signals, resolves once it has exited. Does nothing once it has.
   */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const child = this.child;
    if (!child || !this.isRunning) return;
    const exited = once(child, "exit");
    // PostgreSQL's backends leave the postmaster's group (setsid) and exit only once they notice it
    // died: a restart before then finds their shared memory still in use.
    const children = child.pid === undefined || !ENDING_SIGNALS.has(signal) ? [] : childrenOf(child.pid);
    this.signalGroup(signal);
    if (!ENDING_SIGNALS.has(signal)) return;
    await this.within(exited, `${this.recipe.command} to exit after ${signal}`);
    await this.within(this.gone(children), `the children of ${this.recipe.command} to exit after ${signal}`);
  }

  /** Resolves once none of `children` runs any more (polled: they are no longer our children). */
  private async gone(children: ProcessIdentity[]): Promise<void> {
    let left = children.filter(stillRunning);
    while (left.length > 0) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      left = left.filter(stillRunning);
    }
  }

  /** Its clean stop signal, then SIGKILL if it is still there after 10 s. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.isRunning) return;
    const exited = once(child, "exit");
    this.signalGroup(this.recipe.stopSignal ?? "SIGTERM");
    const timer = setTimeout(() => this.signalGroup("SIGKILL"), 10_000);
    try {
      await this.within(exited, `${this.recipe.command} to stop`);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Signals one process of the server (a PostgreSQL backend, say) after checking that it is still
   * the server's child or in its process group: a pid learned from the server may have exited and
   * been given to an unrelated process since.
   */
  signalMember(pid: number, signal: NodeJS.Signals): void {
    const leader = this.pid;
    if (leader === undefined) throw new Error(`${this.recipe.command} is not running`);
    const lineage = lineageOf(pid);
    const ours = lineage !== undefined && (lineage.parent === leader || lineage.group === leader);
    if (pid === process.pid || pid === leader || !ours) {
      throw new Error(`Process ${pid} is not part of the ${this.recipe.command} (pid ${leader}) we started`);
    }
    sendSignal(pid, signal);
  }

  /** SIGKILL to the group without waiting: for process exit. */
  killNow(): void {
    if (this.isRunning) this.signalGroup("SIGKILL");
  }

  private signalGroup(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid !== undefined && this.isRunning) sendSignal(-pid, signal);
  }

  private async within(exited: Promise<unknown>, what: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Timed out after ${EXIT_TIMEOUT_MS} ms waiting for ${what}`)),
        EXIT_TIMEOUT_MS,
      );
    });
    try {
      await Promise.race([exited, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private track(): void {
    if (running.size === 0) process.on("exit", killAllNow);
    running.add(this);
  }

  private untrack(): void {
    running.delete(this);
    if (running.size === 0) process.off("exit", killAllNow);
  }
}
