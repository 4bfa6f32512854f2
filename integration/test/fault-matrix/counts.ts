import type { FaultMode, LossRule } from "./modes.js";
import type { Kind, ReceiveLedger, SendLedger, StatsSnapshot } from "./protocol.js";

/** One kill and restart, as the sender's counters and the test's clock saw it. */
export interface Crash {
  /** The sender's next number, per kind, just before the kill: everything below had been sent. */
  nAtKill: Record<Kind, number>;
  /** How many messages the receiver had, per kind, just before the kill: they arrived before it. */
  deliveredAtKill: Record<Kind, number>;
  /** The sender's next number once the server answered again. */
  nAtRestart: Record<Kind, number>;
  /** Date.now() when restart() was called: the dead server's last acceptance came before it. */
  restartBeganAt: number;
  /** Whether a message sent after the restart was delivered (within the generous deadline). */
  recovered: Record<Kind, boolean>;
}

/** The counts of one backend × kind. */
export interface CaseCounts {
  /** Sends attempted. */
  sent: number;
  resolved: number;
  rejected: number;
  rejectedCodes: Record<string, number>;
  /** Distinct numbers delivered. */
  delivered: number;
  /** Sends that resolved and were never delivered. */
  lost: number[];
  duplicated: number;
  /** Deliveries that came after a higher number had already arrived. */
  reordered: number;
  /** Rejected sends delivered all the same (the reply was lost: "maybe sent"). */
  deliveredThoughRejected: number;
  /** Numbers delivered that were never sent (must be none). */
  foreign: number;
  /** What the sender's and receiver's stats() count as lost, by the mode's fields. */
  countedInStats: number;
}

function sum(stats: StatsSnapshot | undefined, fields: readonly string[]): number {
  return fields.reduce((total, field) => total + (stats?.[field] ?? 0), 0);
}

/** The stats fields that count this kind's losses: the rule's own, else the common `lostSends`. */
export function countingFields(loss: LossRule): readonly string[] {
  return loss.rule === "counted" ? loss.fields : ["lostSends"];
}

export function countCase(loss: LossRule, send: SendLedger, receive: ReceiveLedger): CaseCounts {
  const seen = new Set<number>();
  let duplicated = 0;
  let reordered = 0;
  let highest = -1;
  for (const n of receive.delivered) {
    if (seen.has(n)) {
      duplicated++;
      continue;
    }
    seen.add(n);
    if (n < highest) reordered++;
    highest = Math.max(highest, n);
  }
  const rejectedCodes: Record<string, number> = {};
  for (const [, code] of send.rejected) rejectedCodes[code] = (rejectedCodes[code] ?? 0) + 1;
  const attempted = new Set([...send.resolved.map(([n]) => n), ...send.rejected.map(([n]) => n)]);
  const fields = countingFields(loss);
  return {
    sent: send.next,
    resolved: send.resolved.length,
    rejected: send.rejected.length,
    rejectedCodes,
    delivered: seen.size,
    lost: send.resolved.filter(([n]) => !seen.has(n)).map(([n]) => n),
    duplicated,
    reordered,
    deliveredThoughRejected: send.rejected.filter(([n]) => seen.has(n)).length,
    foreign: [...seen].filter((n) => !attempted.has(n)).length,
    countedInStats: sum(send.stats, fields) + sum(receive.stats, fields),
  };
}

/**
 * Each crash's gap: (the highest number that had arrived before the kill, the lowest number sent
 * after the restart that arrived). A message lost in the crash lies in it.
 */
function crashGaps(kind: Kind, crashes: readonly Crash[], delivered: readonly number[]): [number, number][] {
  return crashes.map((crash) => {
    const before = delivered.slice(0, crash.deliveredAtKill[kind]).reduce((max, n) => Math.max(max, n), -1);
    const after = delivered.reduce(
      (min, n) => (n >= crash.nAtRestart[kind] ? Math.min(min, n) : min),
      Number.POSITIVE_INFINITY,
    );
    return [before, after];
  });
}

/** Whether the losses stay within what the mode allows; the reason when they do not. */
function lossProblem(
  kind: Kind,
  loss: LossRule,
  counts: CaseCounts,
  crashes: readonly Crash[],
  send: SendLedger,
  receive: ReceiveLedger,
): string | undefined {
  const lost = counts.lost;
  if (lost.length === 0) return undefined;
  const around = crashes.map(
    (crash, index) => `kill ${index + 1}: ${crash.nAtKill[kind]}, restart: ${crash.nAtRestart[kind]}`,
  );
  const shown = `${lost.length} lost (${lost.slice(0, 10).join(", ")}${lost.length > 10 ? ", ..." : ""}; next n at ${around.join("; ")})`;
  if (loss.rule === "none") return `${shown}; it promises none`;
  if (loss.rule === "counted") {
    if (lost.length <= counts.countedInStats) return undefined;
    return `${shown}, but stats() count ${counts.countedInStats} (${loss.fields.join(" + ")})`;
  }
  // Every other rule allows only losses in a crash's gap.
  const gaps = crashGaps(kind, crashes, receive.delivered);
  const gapOf = (n: number) => gaps.findIndex(([before, after]) => before < n && n < after);
  const outside = lost.filter((n) => gapOf(n) < 0);
  if (outside.length > 0) return `${shown}; ${outside.length} outside any crash's gap (${outside.slice(0, 10)})`;
  if (loss.rule === "in-flight-receive") {
    const most = Math.max(...gaps.map((_, index) => lost.filter((n) => gapOf(n) === index).length));
    return most <= loss.perCrash ? undefined : `${shown}; ${most} in one crash, it allows ${loss.perCrash}`;
  }
  if (loss.rule === "held-at-crash") {
    // Accepted by the restarted server, so not something the dead one held.
    const resolvedAt = new Map(send.resolved);
    const late = lost.filter((n) => (resolvedAt.get(n) ?? 0) >= (crashes[gapOf(n)] as Crash).restartBeganAt);
    if (late.length > 0) return `${shown}; ${late.length} resolved after the restart began (${late.slice(0, 10)})`;
  }
  return undefined;
}

/** Every promise this case broke, in words (empty when it kept them all). */
export function brokenPromises(
  mode: FaultMode,
  kind: Kind,
  counts: CaseCounts,
  crashes: readonly Crash[],
  send: SendLedger,
  receive: ReceiveLedger,
): string[] {
  const loss = mode.kinds[kind].loss;
  const problems: string[] = [];
  const say = (condition: boolean, problem: string) => condition || problems.push(problem);
  say(
    crashes.every((crash) => crash.recovered[kind]),
    "delivery did not resume after a restart (nothing sent afterwards arrived)",
  );
  say(send.unsettled === 0, `${send.unsettled} send(s) never settled`);
  say(send.endResolved, "the end marker was never accepted");
  say(receive.ended, "the end marker never arrived");
  say(counts.duplicated === 0, `${counts.duplicated} delivered twice`);
  say(counts.reordered === 0, `${counts.reordered} delivered out of order`);
  say(counts.foreign === 0, `${counts.foreign} delivered that were never sent`);
  const codes = Object.keys(counts.rejectedCodes).filter((code) => code !== "BACKEND_UNAVAILABLE");
  say(codes.length === 0, `rejections other than BACKEND_UNAVAILABLE: ${codes.join(", ")}`);
  say(send.stats !== undefined && receive.stats !== undefined, "a layer without stats()");
  say(
    (send.stats?.reconnects ?? 0) >= 1 && (receive.stats?.reconnects ?? 0) >= 1,
    `stats().reconnects did not count the crash (sender ${send.stats?.reconnects}, receiver ${receive.stats?.reconnects})`,
  );
  const problem = lossProblem(kind, loss, counts, crashes, send, receive);
  if (problem) problems.push(problem);
  return problems;
}
