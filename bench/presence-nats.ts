import { randomBytes } from "node:crypto";
import type { PresenceEntry } from "@channel-layers/core/backend";
import { NatsChannelLayer } from "@channel-layers/nats";
import { startNats } from "@channel-layers/testing";
import { connect, type NatsConnection } from "@nats-io/transport-node";

// pnpm bench:presence:nats: what presence and history cost on the NATS layer, on a throwaway
// nats-server (nothing else on it): the requests each call makes (each one server round trip; the
// ones a call makes at once share one wait), its latency, the JetStream storage per 1,000 tracked
// members and per 1,000 kept messages, and the client heap per 1,000 tracked members.

/** The transport half, called directly for the heartbeat figures (the layer's own heartbeat is slowed out of the way). */
type Half = {
  _presenceTrack(entry: PresenceEntry, replaced: undefined, ttlMs: number): Promise<void>;
  _presenceRefresh(entries: PresenceEntry[], ttlMs: number): Promise<PresenceEntry[]>;
  _presenceSweep(): Promise<PresenceEntry[]>;
};

/** What the layer's subjects carry, by their second token (docs/nats.md, "Subjects and streams"). */
const KINDS: Record<string, string> = {
  g: "group publish",
  h: "history store",
  p: "presence write",
  m: "member record",
  i: "instance frame",
  ctl: "control",
};

/** Counts what reaches the server from a layer: requests (a reply subject) and one-way publishes. */
class WireCounter {
  requests: Record<string, number> = {};
  publishes: Record<string, number> = {};

  private constructor(
    private readonly snoop: NatsConnection,
    private readonly layerConnection: NatsConnection,
    private readonly root: string,
  ) {}

  static async watch(url: string, layerConnection: NatsConnection, root: string): Promise<WireCounter> {
    const counter = new WireCounter(await connect({ servers: url }), layerConnection, root);
    for (const subject of [`${root}.>`, "$JS.API.>"]) {
      counter.snoop.subscribe(subject, {
        callback: (_error, msg) => {
          if (msg.headers?.get("Nats-Stream")) return; // the server's own republish, not a call
          const kind = counter.kindOf(msg.subject);
          const table = msg.reply ? counter.requests : counter.publishes;
          table[kind] = (table[kind] ?? 0) + 1;
        },
      });
    }
    await counter.snoop.flush();
    return counter;
  }

  /** What `work` sent, once everything it published has reached the snooping connection. */
  async of(work: () => Promise<unknown>): Promise<string> {
    await this.snoop.flush();
    this.requests = {};
    this.publishes = {};
    await work();
    await new Promise((resolve) => setImmediate(resolve));
    await this.layerConnection.flush();
    await this.snoop.flush();
    const list = (table: Record<string, number>) =>
      Object.entries(table)
        .map(([kind, n]) => `${n} ${kind}`)
        .join(", ") || "none";
    return `requests: ${list(this.requests)}; one-way: ${list(this.publishes)}`;
  }

  close(): Promise<void> {
    return this.snoop.close();
  }

  private kindOf(subject: string): string {
    if (subject.startsWith("$JS.API.")) return subject.split(".").slice(2, 4).join(".");
    const kind = subject.slice(this.root.length + 1).split(".")[0] ?? "";
    return KINDS[kind] ?? kind;
  }
}

async function timed(label: string, count: number, work: (n: number) => Promise<unknown>): Promise<void> {
  for (let n = 0; n < 20; n++) await work(-n - 1);
  const started = process.hrtime.bigint();
  for (let n = 0; n < count; n++) await work(n);
  const ms = Number(process.hrtime.bigint() - started) / 1e6 / count;
  console.log(`  ${label.padEnd(44)} ${ms.toFixed(3)} ms`);
}

const gc = (globalThis as { gc?: () => void }).gc;
function heapUsed(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

const server = await startNats({ throwaway: true });
if (server === undefined) throw new Error("No nats-server: install one or set up the test services");
try {
  const prefix = `bench${randomBytes(4).toString("hex")}`;
  const connection = await connect({ servers: server.url });
  const options = {
    connection,
    prefix,
    capacity: 100_000,
    groupHistory: [["chat_*", { maxLength: 1000 }]] as const,
    presenceHeartbeatMs: 3_600_000,
    presenceTimeoutMs: 7_200_000,
  };
  const layer = new NatsChannelLayer(options);
  // A second instance with members: every groupSend crosses the wire, as in a deployment.
  const other = new NatsChannelLayer({ ...options, connection: await connect({ servers: server.url }) });
  const member = await other.newChannel();
  const local = await layer.newChannel();
  for (const group of ["chat_room", "plain_room"]) await other.groupAdd(group, member);
  await layer.groupSend("chat_room", { type: "warm" });
  await layer.presenceTrack("chat_room", local, "warm");
  const wire = await WireCounter.watch(server.url, connection, prefix);

  console.log("What each call sends (NATS layer; a request is one round trip, concurrent ones share it):");
  const rows: [string, () => Promise<unknown>][] = [
    ["groupSend, group without history", () => layer.groupSend("plain_room", { type: "m" })],
    ["groupSend, group with history", () => layer.groupSend("chat_room", { type: "m" })],
    ["groupHistory (a resume, per group)", () => layer.groupHistory("chat_room", { after: 0 })],
    ["presenceTrack", () => layer.presenceTrack("chat_room", local, "alice")],
    ["presenceTrack again (new meta)", () => layer.presenceTrack("chat_room", local, "alice", { away: true })],
    ["presenceUntrack", () => layer.presenceUntrack("chat_room", local, "alice")],
    ["presenceList", () => layer.presenceList("chat_room")],
  ];
  for (const [what, work] of rows) console.log(`  ${what.padEnd(36)} ${await wire.of(work)}`);

  const half = layer as unknown as Half;
  const entries: PresenceEntry[] = Array.from({ length: 1000 }, (_, n) => ({
    group: "chat_room",
    key: `user-${n}`,
    channel: local,
    ref: randomBytes(10).toString("hex"),
    meta: { online_at: 1_718_000_000 + n },
    instance: "bench",
  }));
  for (const entry of entries) await half._presenceTrack(entry, undefined, 7_200_000);
  console.log(
    `  ${"heartbeat: refresh of 1,000 entries".padEnd(36)} ${await wire.of(() => half._presenceRefresh(entries, 7_200_000))}`,
  );
  console.log(`  ${"heartbeat: sweep, nothing lapsed".padEnd(36)} ${await wire.of(() => half._presenceSweep())}`);
  await wire.close();

  /** The state of the one stream taking `subject` (JetStream API requests, as the layer makes them). */
  const streamState = async (subject: string): Promise<{ bytes: number; messages: number }> => {
    const ask = async (call: string, body: unknown) =>
      JSON.parse(new TextDecoder().decode((await connection.request(`$JS.API.${call}`, JSON.stringify(body))).data));
    const { streams } = (await ask("STREAM.NAMES", { subject })) as { streams: string[] };
    return ((await ask(`STREAM.INFO.${streams[0]}`, {})) as { state: { bytes: number; messages: number } }).state;
  };
  const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

  // 10,000 tracks through the public API on an instance of their own, in a group nobody here is in
  // (no diff is buffered in this process): server storage and client heap.
  const tracking = new NatsChannelLayer({ ...options, connection: await connect({ servers: server.url }) });
  const channels = await Promise.all(Array.from({ length: 10_000 }, () => tracking.newChannel()));
  const storedBefore = await streamState(`${prefix}.p.>`);
  const heapBefore = heapUsed();
  for (const [n, channel] of channels.entries()) {
    await tracking.presenceTrack("lobby", channel, `member-${n}`, { online_at: 1_718_000_000 + n });
  }
  const heapAfter = heapUsed();
  const storedAfter = await streamState(`${prefix}.p.>`);
  console.log(
    `JetStream storage per 1,000 tracked members (10,000 tracked, meta { online_at }): ${kib((storedAfter.bytes - storedBefore.bytes) / 10)} (${storedAfter.messages - storedBefore.messages} more messages)`,
  );
  console.log(
    `Client heap per 1,000 tracked members (the tracking instance): ${kib((heapAfter - heapBefore) / 10)}${gc ? "" : " (rough: no --expose-gc)"}`,
  );
  await tracking.close();

  const history = async () => ({ state: await streamState(`${prefix}.h.>`) });
  const historyBefore = (await history()).state.bytes;
  for (let n = 0; n < 1000; n++)
    await layer.groupSend("chat_room", { type: "chat.message", message: "hello, world", n });
  console.log(
    `JetStream storage per 1,000 kept history messages ({ type, message: "hello, world", n }): ${kib((await history()).state.bytes - historyBefore)}`,
  );

  // A dead process's 10,000 entries, lapsed at once, removed by one sweep of another instance
  // (on a prefix of their own, so no live entry stands before them).
  const deadOptions = { ...options, prefix: `${prefix}dead` };
  const deadLayer = new NatsChannelLayer({ ...deadOptions, connection: await connect({ servers: server.url }) });
  const sweeper = new NatsChannelLayer({ ...deadOptions, connection: await connect({ servers: server.url }) });
  const deadChannel = await deadLayer.newChannel();
  await sweeper.newChannel(); // opens it
  const dead = Array.from({ length: 10_000 }, (_, n) => ({
    ...(entries[0] as PresenceEntry),
    channel: deadChannel,
    key: `gone-${n}`,
    ref: randomBytes(10).toString("hex"),
  }));
  for (let n = 0; n < dead.length; n += 500) {
    await Promise.all(
      dead.slice(n, n + 500).map((entry) => (deadLayer as unknown as Half)._presenceTrack(entry, undefined, 1)),
    );
  }
  const sweepStarted = process.hrtime.bigint();
  const swept = await (sweeper as unknown as Half)._presenceSweep();
  const sweepMs = Number(process.hrtime.bigint() - sweepStarted) / 1e6;
  console.log(
    `One sweep removing a dead process's ${swept.length.toLocaleString("en-US")} lapsed entries: ${sweepMs.toFixed(0)} ms`,
  );
  await Promise.all([sweeper.close(), deadLayer.close()]);

  console.log("Latency, one call at a time (ms per call):");
  await timed("groupSend, group without history", 2000, (n) => layer.groupSend("plain_room", { type: "m", n }));
  await timed("groupSend, group with history", 2000, (n) => layer.groupSend("chat_room", { type: "m", n }));
  await timed("presenceTrack (new meta each time)", 1000, (n) => layer.presenceTrack("chat_room", local, "bob", { n }));
  await timed("groupHistory after the 100th newest", 200, async () => {
    const all = await layer.groupHistory("chat_room", { after: 0 });
    await layer.groupHistory("chat_room", { after: all.messages.at(-100)?.offset ?? 0 });
  });
  await layer.close();
  await other.close();
  await connection.close();
} finally {
  await server.stop();
}
