import type { ChannelLayer } from "@channel-layers/core";
import { closeChannelLayers } from "../settings/registry.js";

/** A server or worker the process shuts down: serve(), attach() and runWorker() join by themselves. */
export interface ShutdownParticipant {
  /**
   * Stops taking new work before its first await (no new sockets, no new messages), then resolves
   * once the work in flight is done or its own deadline passed.
   */
  stop(): Promise<void>;
  /** The layer it was given, closed in the last step with the settings' layers. */
  readonly channelLayer: ChannelLayer | undefined;
}

/** A function run during shutdown, after servers and workers stopped and before the layers close. */
export type ShutdownHook = () => unknown;

/** Options of the process's one shutdown. */
export interface ShutdownOptions {
  /**
   * Ends the process with `process.exit()` once a shutdown is done (code 0, or 1 when a step
   * failed), even if something else still keeps it alive. The CLI sets it. Default false: the
   * process ends by itself once nothing keeps it running.
   */
  exitOnShutdown?: boolean;
}

/** The signals serve(), runWorker() and onShutdown() listen for unless told otherwise. */
export const DEFAULT_SHUTDOWN_SIGNALS: readonly NodeJS.Signals[] = ["SIGTERM", "SIGINT"];

const participants = new Map<ShutdownParticipant, readonly NodeJS.Signals[]>();
const hooks: ShutdownHook[] = [];
const listening = new Set<NodeJS.Signals>();
let exitOnShutdown = false;
let running: Promise<void> | undefined;
/** True from a shutdown's first step to its last: no signal handlers then, so a second signal ends the process. */
let shuttingDown = false;

function onSignal(): void {
  void shutdown();
}

/** Listens for exactly the signals someone asked for, so a process with nothing to shut down keeps Node's defaults. */
function listenForWantedSignals(): void {
  const wanted = new Set<NodeJS.Signals>(hooks.length > 0 ? DEFAULT_SHUTDOWN_SIGNALS : []);
  for (const signals of participants.values()) for (const signal of signals) wanted.add(signal);
  if (shuttingDown) wanted.clear();
  for (const signal of listening) {
    if (!wanted.has(signal)) {
      process.off(signal, onSignal);
      listening.delete(signal);
    }
  }
  for (const signal of wanted) {
    if (!listening.has(signal)) {
      process.on(signal, onSignal);
      listening.add(signal);
    }
  }
}

/** Sets how the process's shutdown ends. */
export function configureShutdown(options: ShutdownOptions): void {
  if (options.exitOnShutdown !== undefined) exitOnShutdown = options.exitOnShutdown;
}

/**
 * Adds a server or worker to the process's shutdown; `signals` start it ([] joins without
 * listening: the participant is stopped if something else starts the shutdown). Returns the
 * function that takes it out again (its own close() or stop() calls that).
 */
export function joinShutdown(participant: ShutdownParticipant, signals: readonly NodeJS.Signals[]): () => void {
  participants.set(participant, [...signals]);
  listenForWantedSignals();
  return () => {
    if (participants.delete(participant)) listenForWantedSignals();
  };
}

/**
 * Runs `hook` during the process's shutdown, after every server and worker stopped and before
 * the layers close (close your own HTTP server, database pool... here). Hooks run one at a
 * time, in the order they were added; one that throws is logged and the rest still run.
 * Adding a hook makes SIGTERM and SIGINT start the shutdown. Returns the function that removes it.
 */
export function onShutdown(hook: ShutdownHook): () => void {
  if (typeof hook !== "function") throw new TypeError(`onShutdown takes a function; got ${typeof hook}`);
  hooks.push(hook);
  listenForWantedSignals();
  return () => {
    const index = hooks.indexOf(hook);
    if (index !== -1) hooks.splice(index, 1);
    listenForWantedSignals();
  };
}

/**
 * The process's one shutdown, what SIGTERM and SIGINT run: every server and worker stops taking
 * work at once; servers close their sockets with 1001 and run the consumers' disconnects while
 * workers finish the messages in hand (each up to its shutdownTimeoutMs); then the hooks run;
 * then the layers close (the settings' and those handed to serve/attach/runWorker). Signal
 * handlers are removed first, so a second Ctrl-C ends the process at once. Calling it again while
 * it runs returns the same promise.
 */
export function shutdown(): Promise<void> {
  running ??= runShutdown().finally(() => {
    running = undefined;
    listenForWantedSignals();
  });
  return running;
}

function report(step: string, error: unknown): void {
  console.error(`channel-layers: shutdown: ${step} failed:`, error);
  process.exitCode = 1;
}

async function runShutdown(): Promise<void> {
  shuttingDown = true;
  try {
    await stopEverything();
  } finally {
    shuttingDown = false;
  }
  if (exitOnShutdown) process.exit();
}

async function stopEverything(): Promise<void> {
  const stopping = [...participants.keys()];
  participants.clear();
  listenForWantedSignals();
  const layers = new Set<ChannelLayer>();
  for (const participant of stopping) if (participant.channelLayer) layers.add(participant.channelLayer);
  // Every stop() starts in this same tick, so everything stops taking work before anything awaits.
  const stopped = await Promise.allSettled(stopping.map((participant) => participant.stop()));
  for (const result of stopped) if (result.status === "rejected") report("stopping a server or worker", result.reason);
  for (const hook of hooks.splice(0)) {
    try {
      await hook();
    } catch (error) {
      report("a shutdown hook", error);
    }
  }
  const closing = await Promise.allSettled([closeChannelLayers(), ...[...layers].map((layer) => layer.close())]);
  for (const result of closing) if (result.status === "rejected") report("closing a channel layer", result.reason);
}
