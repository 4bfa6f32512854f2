import type { GroupHistory, GroupHistoryRule, HistoryOffset, Message } from "@channel-layers/core";
import type { PresenceEntry } from "@channel-layers/core/backend";
import { InMemoryChannelLayer, type InMemoryChannelLayerOptions } from "@channel-layers/memory";

// pnpm bench:presence: what presence and history cost on the in-memory layer: backend operations
// (each one round trip on a networked backend that does it in one command) per message and per
// track, heap per 1,000 tracked members and per 1,000 kept messages, and groupSend throughput.
// Run with --expose-gc (the script does) so heap figures are after a full collection.

/** The in-memory layer, counting the calls of its transport half: what would go over the wire. */
class CountingLayer extends InMemoryChannelLayer {
  readonly calls: Record<string, number> = {};

  constructor(options: InMemoryChannelLayerOptions) {
    super(options);
  }

  private count(name: string): void {
    this.calls[name] = (this.calls[name] ?? 0) + 1;
  }

  protected override _groupSend(group: string, message: Message) {
    this.count("groupSend");
    return super._groupSend(group, message);
  }
  protected override _groupSendWithHistory(group: string, message: Message, rule: GroupHistoryRule) {
    this.count("groupSendWithHistory");
    return super._groupSendWithHistory(group, message, rule);
  }
  protected override _groupHistory(group: string, after: HistoryOffset, rule: GroupHistoryRule): Promise<GroupHistory> {
    this.count("groupHistory");
    return super._groupHistory(group, after, rule);
  }
  protected override _presenceTrack(entry: PresenceEntry, replaced: PresenceEntry | undefined, ttlMs: number) {
    this.count("presenceTrack");
    return super._presenceTrack(entry, replaced, ttlMs);
  }
  protected override _presenceUntrack(entries: readonly PresenceEntry[]) {
    this.count("presenceUntrack");
    return super._presenceUntrack(entries);
  }
  protected override _presenceList(group: string) {
    this.count("presenceList");
    return super._presenceList(group);
  }
  protected override _presenceRefresh(entries: readonly PresenceEntry[], ttlMs: number) {
    this.count("presenceRefresh");
    return super._presenceRefresh(entries, ttlMs);
  }
  protected override _presenceSweep() {
    this.count("presenceSweep");
    return super._presenceSweep();
  }

  /** The calls `work` made. */
  async callsOf(work: () => Promise<void>): Promise<Record<string, number>> {
    for (const name of Object.keys(this.calls)) delete this.calls[name];
    await work();
    return { ...this.calls };
  }
}

const gc = (globalThis as { gc?: () => void }).gc;
function heapUsed(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

const HISTORY = { groupHistory: [["chat_*", { maxLength: 1000 }]] as const };

async function operations(): Promise<void> {
  const layer = new CountingLayer({ ...HISTORY, presenceHeartbeatMs: 60_000 });
  const member = await layer.newChannel();
  await layer.groupAdd("chat_room", member);
  await layer.groupAdd("plain_room", member);
  const rows: [string, Record<string, number>][] = [
    ["groupSend, group without history", await layer.callsOf(() => layer.groupSend("plain_room", { type: "m" }))],
    ["groupSend, group with history", await layer.callsOf(() => layer.groupSend("chat_room", { type: "m" }))],
    [
      "groupHistory (a resume, per group)",
      await layer.callsOf(async () => void (await layer.groupHistory("chat_room", { after: 0 }))),
    ],
    ["presenceTrack", await layer.callsOf(async () => void (await layer.presenceTrack("chat_room", member, "alice")))],
    [
      "presenceTrack again (new meta)",
      await layer.callsOf(async () => void (await layer.presenceTrack("chat_room", member, "alice", { away: true }))),
    ],
    ["presenceUntrack", await layer.callsOf(() => layer.presenceUntrack("chat_room", member, "alice"))],
    ["presenceList", await layer.callsOf(async () => void (await layer.presenceList("chat_room")))],
  ];
  console.log(
    "Backend operations per call (memory layer; each is one round trip where the backend does it in one command):",
  );
  for (const [what, calls] of rows) console.log(`  ${what.padEnd(38)} ${JSON.stringify(calls)}`);
  await layer.close();
}

async function heartbeatOperations(): Promise<void> {
  const layer = new CountingLayer({ presenceHeartbeatMs: 50, presenceTimeoutMs: 150 });
  const channels = await Promise.all(Array.from({ length: 1000 }, () => layer.newChannel()));
  for (const [i, channel] of channels.entries()) await layer.presenceTrack("room", channel, `user-${i}`);
  const calls = await layer.callsOf(() => new Promise((resolve) => setTimeout(resolve, 525)));
  console.log(`Heartbeat operations in 525 ms at presenceHeartbeatMs 50, 1,000 tracked: ${JSON.stringify(calls)}`);
  await layer.close();
}

async function presenceMemory(members: number): Promise<number> {
  const layer = new InMemoryChannelLayer({ presenceHeartbeatMs: 60_000 });
  const channels = await Promise.all(Array.from({ length: members }, () => layer.newChannel()));
  const before = heapUsed();
  for (const [i, channel] of channels.entries()) {
    await layer.presenceTrack("room", channel, `user-${i}`, { online_at: 1_718_000_000 + i });
  }
  const after = heapUsed();
  await layer.close();
  return (after - before) / (members / 1000);
}

async function historyMemory(messages: number): Promise<number> {
  const layer = new InMemoryChannelLayer({ groupHistory: [["chat_*", { maxLength: messages }]] });
  const before = heapUsed();
  for (let n = 0; n < messages; n++)
    await layer.groupSend("chat_room", { type: "chat.message", message: "hello, world", n });
  const after = heapUsed();
  await layer.close();
  return (after - before) / (messages / 1000);
}

/** groupSends per second to a group of one member (nobody receives: capacity holds them all). */
async function throughput(group: string, count: number): Promise<number> {
  const layer = new InMemoryChannelLayer({ ...HISTORY, capacity: count + 1 });
  const channel = await layer.newChannel();
  await layer.groupAdd(group, channel);
  const started = process.hrtime.bigint();
  for (let n = 0; n < count; n++) await layer.groupSend(group, { type: "m", n });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await layer.close();
  return count / seconds;
}

await operations();
await heartbeatOperations();
const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;
console.log(
  `Heap per 1,000 tracked members (10,000 tracked): ${kb(await presenceMemory(10_000))}${gc ? "" : " (no --expose-gc: rough)"}`,
);
console.log(`Heap per 1,000 kept history messages (10,000 kept): ${kb(await historyMemory(10_000))}`);
for (const [label, group] of [
  ["without history", "plain_room"],
  ["with history", "chat_room"],
] as const) {
  await throughput(group, 20_000);
  const best = Math.max(await throughput(group, 20_000), await throughput(group, 20_000));
  console.log(`groupSend to one member ${label}: ${Math.round(best).toLocaleString("en-US")} msg/s`);
}
