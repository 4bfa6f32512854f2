import type { TestService } from "./service.js";

/** Several servers that form one service (a cluster, a Sentinel set), handled together. */
export interface ServiceGroup {
  /** One node's URL; clients that learn the others from it (Redis Cluster, NATS) need no more. */
  readonly url: string;
  readonly nodes: readonly TestService[];
  /** Stops every node and removes their data. */
  stop(): Promise<void>;
  /** Restarts every node, then waits until the group works again. */
  restart(): Promise<void>;
  /** Sends `signal` to every node (SIGKILL by default); kill one node through `nodes`. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts every node at once; if one fails, stops the others before rejecting. */
export async function startNodes(starts: ReadonlyArray<() => Promise<TestService>>): Promise<TestService[]> {
  const results = await Promise.allSettled(starts.map((start) => start()));
  const started = results.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
  const failure = results.find((result): result is PromiseRejectedResult => result.status === "rejected");
  if (failure) {
    await Promise.all(started.map((node) => node.stop().catch(() => undefined)));
    throw failure.reason;
  }
  return started;
}

/** A ServiceGroup over `nodes`; `settled` waits until the group works (after start and restart). */
export function serviceGroup(nodes: readonly TestService[], settled: () => Promise<void>): ServiceGroup {
  const [first] = nodes;
  if (!first) throw new Error("A service group needs at least one node");
  return {
    url: first.url,
    nodes,
    async stop() {
      await Promise.all(nodes.map((node) => node.stop()));
    },
    async restart() {
      await Promise.all(nodes.map((node) => node.restart()));
      await settled();
    },
    async kill(signal) {
      await Promise.all(nodes.map((node) => node.kill(signal)));
    },
  };
}

/** Stops `nodes` if `settle` fails, so a group that never came together leaves nothing running. */
export async function settleOrStop(nodes: readonly TestService[], settle: () => Promise<void>): Promise<void> {
  try {
    await settle();
  } catch (error) {
    await Promise.all(nodes.map((node) => node.stop().catch(() => undefined)));
    throw error;
  }
}

/** The port of a node's URL. */
export function portOf(url: string): number {
  return Number(new URL(url).port);
}
