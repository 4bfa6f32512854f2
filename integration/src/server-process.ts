import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";

/** How to run one throwaway server; `ready` tells when it answers. */
export interface ServerCommand {
  command: string;
  args: string[];
  /** Run as this user (uid, gid) when we are root: PostgreSQL refuses to run as root. */
  user?: { uid: number; gid: number };
  ready(): Promise<void>;
}

const running = new Set<ServerProcess>();

// A test run that dies must not leave servers behind: kill every process group we started.
process.once("exit", () => {
  for (const server of running) server.killNow();
});

/**
 * A server process we started and own, in its own process group so that kill() ends it with all
 * of its children (PostgreSQL's backends) at once, as a crash would.
 */
export class ServerProcess {
  private child: ChildProcess | undefined;
  private output = "";

  constructor(private readonly recipe: ServerCommand) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get isRunning(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    const child = spawn(this.recipe.command, this.recipe.args, {
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      ...(this.recipe.user && process.getuid?.() === 0 ? this.recipe.user : {}),
    });
    this.child = child;
    running.add(this);
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-4000);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    const exited = once(child, "exit").then(() => {
      throw new Error(`${this.recipe.command} exited while starting:\n${this.output}`);
    });
    exited.catch(() => undefined);
    await Promise.race([this.recipe.ready(), exited]);
  }

  /** SIGKILL to the whole process group: the crash a fault test wants. */
  async kill(): Promise<void> {
    await this.signal("SIGKILL");
  }

  /** SIGTERM to the whole process group, then wait for the exit. */
  async stop(): Promise<void> {
    await this.signal("SIGTERM");
  }

  killNow(): void {
    const pid = this.child?.pid;
    if (pid !== undefined && this.isRunning) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (child?.pid === undefined || !this.isRunning) return;
    const exited = once(child, "exit");
    try {
      process.kill(-child.pid, signal);
    } catch {
      return;
    }
    await exited;
    running.delete(this);
  }
}
