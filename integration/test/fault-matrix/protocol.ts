/** What the test process and its sender and receiver processes say to each other over IPC. */

export type Backend = "redis" | "postgres" | "nats";

/** The three kinds of channel: one made by newChannel(), one named by the app, a group's member. */
export type Kind = "local" | "named" | "group";
export const KINDS: readonly Kind[] = ["local", "named", "group"];

/** A record with `value(kind)` for every kind. */
export function perKind<T>(value: (kind: Kind) => T): Record<Kind, T> {
  return { local: value("local"), named: value("named"), group: value("group") };
}

/** How a peer process makes its layers: one per kind, all on one prefix (so one layer). */
export interface PeerConfig {
  role: "sender" | "receiver";
  backend: Backend;
  url: string;
  prefix: string;
  /** Options beside the connection and prefix (capacity, ackWaitMs...), as JSON. */
  layerOptions: Record<string, number>;
}

/** Where the sender sends each kind: the receiver's own channel, the named channel, the group. */
export type Targets = Record<Kind, string>;

/** A layer's stats(), the numeric fields. */
export type StatsSnapshot = Record<string, number>;

/** What the sender did for one kind. `at` is Date.now() when the call settled. */
export interface SendLedger {
  /** The next number to send: every n below it has been sent (settled or not). */
  next: number;
  resolved: [n: number, at: number][];
  rejected: [n: number, code: string, at: number][];
  /** Sends that had not settled when the sender was told to stop (a hang, if not 0). */
  unsettled: number;
  /** Whether the end marker's send resolved. */
  endResolved: boolean;
  stats: StatsSnapshot | undefined;
}

/** What the receiver got on one kind, in arrival order. */
export interface ReceiveLedger {
  delivered: number[];
  /** Receives that rejected, by error code. */
  receiveErrors: Record<string, number>;
  /** Whether the sender's end marker arrived (per-channel order: nothing sent before it is still to come). */
  ended: boolean;
  stats: StatsSnapshot | undefined;
}

export interface ReceiveProgress {
  count: number;
  maxN: number;
  ended: boolean;
}

/** The calls each peer answers: method name -> [parameters, result]. */
export interface SenderCalls {
  start: [{ targets: Targets; perSecond: number }, null];
  progress: [null, Record<Kind, number>];
  stop: [null, null];
  report: [null, Record<Kind, SendLedger>];
  close: [null, null];
}

export interface ReceiverCalls {
  open: [{ named: string; group: string }, Targets];
  progress: [null, Record<Kind, ReceiveProgress>];
  report: [null, Record<Kind, ReceiveLedger>];
  close: [null, null];
}

export interface CallRequest {
  id: number;
  method: string;
  params: unknown;
}

export type CallReply = { id: number; result: unknown } | { id: number; error: string };

/** The message every sent number rides in; the end marker has type END_TYPE. */
export const MESSAGE_TYPE = "fault.n";
export const END_TYPE = "fault.end";

/** The error code of a rejection, or what it was when it had none (an untyped error is a finding). */
export function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === "string") return code;
  return `untyped ${(error as Error | undefined)?.name ?? typeof error}`;
}
