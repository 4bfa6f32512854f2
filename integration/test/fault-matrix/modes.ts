import type { Backend, Kind } from "./protocol.js";

/**
 * What a kind of channel may lose across a server crash, as its backend's docs say:
 * - none: nothing whose send resolved;
 * - in-flight-receive: only what a receive had taken from the server when it died, whose reply
 *   never came: at most `perCrash` per crash, in the crash's gap (see crash-window);
 * - counted: no more than `fields` of the sender's and receiver's stats() count (the backend knows);
 * - held-at-crash: only what the dead server held: every lost send resolved before the restart
 *   began, and lies in a crash's gap (see crash-window);
 * - crash-window: only sends in a crash's gap, between the last one delivered before the kill and
 *   the first one delivered after the restart (in flight, or sent before the layer recovered).
 */
export type LossRule =
  | { rule: "none" }
  | { rule: "in-flight-receive"; perCrash: number }
  | { rule: "counted"; fields: readonly string[] }
  | { rule: "held-at-crash" }
  | { rule: "crash-window" };

export interface KindPromise {
  loss: LossRule;
  /** The promise in a few words, for the table. */
  says: string;
}

/** One backend in one configuration: its server, the layers' options and what each kind promises. */
export interface FaultMode {
  name: string;
  backend: Backend;
  /** Extra server flags; any (even none) make @channel-layers/testing start a local server of ours. */
  serverArgs: string[];
  /** Beyond the defaults: capacity out of the way, so ChannelFull never muddies the counts. */
  layerOptions: Record<string, number>;
  kinds: Record<Kind, KindPromise>;
}

const CAPACITY = 1_000_000;
/**
 * What one pop of an instance's process key takes at most (the Redis layer's batch): all of it
 * is lost when the pop's reply dies with the server. A named channel's pop takes one per waiting receive.
 */
const POP_BATCH = 512;
const IN_FLIGHT_POP = "AOF on disk; a pop whose reply died with Redis is lost";

export const FAULT_MODES: readonly FaultMode[] = [
  {
    // @channel-layers/testing's redis-server: --save "" --appendonly no, Redis' cache setting.
    name: "Redis, no persistence",
    backend: "redis",
    serverArgs: [],
    layerOptions: { capacity: CAPACITY },
    kinds: {
      local: { loss: { rule: "held-at-crash" }, says: "loses what Redis held when it died" },
      named: { loss: { rule: "held-at-crash" }, says: "loses what Redis held when it died" },
      group: {
        loss: { rule: "crash-window" },
        says: "memberships die with Redis; re-added by their instance within 10 s",
      },
    },
  },
  {
    // Every write is in the AOF (written and fsynced) before Redis replies, so whatever a send
    // resolved on survives SIGKILL. A pop is a write too: one that Redis wrote to the AOF while
    // its reply died with it is gone for good (seen in the AOF: the member's ZADD, then its pop).
    name: "Redis, appendonly yes + appendfsync always",
    backend: "redis",
    serverArgs: ["--appendonly", "yes", "--appendfsync", "always"],
    layerOptions: { capacity: CAPACITY },
    kinds: {
      local: { loss: { rule: "in-flight-receive", perCrash: POP_BATCH }, says: IN_FLIGHT_POP },
      named: { loss: { rule: "in-flight-receive", perCrash: 1 }, says: IN_FLIGHT_POP },
      group: { loss: { rule: "in-flight-receive", perCrash: POP_BATCH }, says: IN_FLIGHT_POP },
    },
  },
  {
    name: "PostgreSQL",
    backend: "postgres",
    serverArgs: [],
    layerOptions: { capacity: CAPACITY },
    kinds: {
      local: { loss: { rule: "none" }, says: "committed rows: nothing lost" },
      named: {
        loss: { rule: "in-flight-receive", perCrash: 1 },
        says: "committed rows; at most 1 per waiting receive per crash",
      },
      group: { loss: { rule: "none" }, says: "committed rows: nothing lost" },
    },
  },
  {
    // ackWaitMs 2 s instead of 30: how soon JetStream redelivers a message lost on its way to the receiver.
    name: "NATS (JetStream, file storage)",
    backend: "nats",
    serverArgs: [],
    layerOptions: { capacity: CAPACITY, ackWaitMs: 2000 },
    kinds: {
      local: {
        loss: { rule: "counted", fields: ["lostSends", "unconfirmedSends", "undeliverable"] },
        says: "in flight can be lost, and is counted",
      },
      named: { loss: { rule: "none" }, says: "JetStream on disk: nothing lost" },
      group: { loss: { rule: "crash-window" }, says: "at most once: in flight lost, not counted" },
    },
  },
];
