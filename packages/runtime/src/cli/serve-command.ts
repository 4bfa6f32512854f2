import cluster, { type Worker as ClusterWorker } from "node:cluster";
import { serve } from "../server/websocket-server.js";
import { configureChannelLayers } from "../settings/registry.js";
import { configureShutdown, DEFAULT_SHUTDOWN_SIGNALS } from "../shutdown/coordinator.js";
import { loadAppModule } from "./app-module.js";

export interface ServeCommandOptions {
  app: string;
  host: string;
  port: number;
  processes: number;
}

/** `channel-layers serve <app>`: one server process, or with --processes N a primary and N of them. */
export async function serveCommand(options: ServeCommandOptions): Promise<void> {
  if (options.processes > 1 && cluster.isPrimary) {
    superviseProcesses(options.processes);
    return;
  }
  configureShutdown({ exitOnShutdown: true });
  // Ctrl-C reaches the whole process group; in a cluster the primary turns it into one SIGTERM each.
  if (cluster.isWorker) process.on("SIGINT", () => undefined);
  const module = await loadAppModule(options.app);
  if (module.channelLayers !== undefined) configureChannelLayers(module.channelLayers);
  const server = await serve(module.application, {
    ...module.serverOptions,
    host: options.host,
    port: options.port,
    shutdownSignals: cluster.isWorker ? ["SIGTERM"] : DEFAULT_SHUTDOWN_SIGNALS,
  });
  const layer = server.channelLayer?.constructor.name ?? "none";
  console.log(`Listening on ${server.url} (channel layer: ${layer}, pid ${process.pid})`);
}

/**
 * The primary of `--processes N`: forks N server processes that share the listening socket, turns
 * the first SIGTERM/SIGINT into a SIGTERM to each (a second one kills them), and exits once all
 * have: 0 when each shut down cleanly. A process that dies on its own stops the rest (exit 1), so
 * the supervisor (systemd, Kubernetes) restarts the whole service.
 */
function superviseProcesses(count: number): void {
  let stopping = false;
  let failed = false;
  const running = new Set<ClusterWorker>();
  const stopAll = () => {
    const signal = stopping ? "SIGKILL" : "SIGTERM";
    stopping = true;
    for (const worker of running) worker.process.kill(signal);
  };
  for (const signal of DEFAULT_SHUTDOWN_SIGNALS) process.on(signal, stopAll);
  cluster.on("exit", (worker, code, signal) => {
    running.delete(worker);
    if (!stopping) {
      console.error(
        `channel-layers: process ${worker.process.pid} exited (${signal ?? `code ${code}`}); stopping the others`,
      );
      failed = true;
      stopAll();
    } else if (code !== 0) {
      failed = true;
    }
    if (running.size === 0) process.exit(failed ? 1 : 0);
  });
  for (let index = 0; index < count; index++) running.add(cluster.fork());
  console.log(`Started ${count} server processes (primary pid ${process.pid})`);
}
