import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ServerCommand, ServerProcess } from "./server-process.js";
import type { ServiceKind, TestService } from "./service.js";

/** CHANNEL_LAYERS_LOCAL_SERVERS=0 turns local servers off: how tests behave on a machine without them. */
export function localServersAllowed(): boolean {
  return process.env.CHANNEL_LAYERS_LOCAL_SERVERS !== "0";
}

/** A fresh temporary directory for one server's data. */
export function makeDataDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `channel-layers-${label}-`));
}

/** One throwaway server to run from a local binary: its URL, its data directory and its command. */
export interface LocalServerPlan {
  kind: ServiceKind;
  url: string;
  /** Removed by stop(). */
  dataDir: string;
  command: ServerCommand;
}

/** Starts `plan` in its own process group; restart() runs the same command (same port, same data). */
export async function startLocalServer(plan: LocalServerPlan): Promise<TestService> {
  let server = new ServerProcess(plan.command);
  try {
    await server.start();
  } catch (error) {
    rmSync(plan.dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    kind: plan.kind,
    url: plan.url,
    source: "local",
    get pid() {
      return server.pid;
    },
    async stop() {
      await server.stop();
      rmSync(plan.dataDir, { recursive: true, force: true });
    },
    async restart() {
      await server.kill("SIGKILL");
      server = new ServerProcess(plan.command);
      await server.start();
    },
    kill: (signal) => server.kill(signal),
    signalProcess: (pid, signal) => server.signalMember(pid, signal),
  };
}
