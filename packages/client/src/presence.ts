import type { ChannelLayersClient } from "./client.js";
import type { ServerMessage } from "./dispatcher.js";

/** One track of a key (a tab, a device): the server's meta and the track's `ref`. */
export interface PresenceMeta {
  ref: string;
  [key: string]: unknown;
}

/** Everything known about one key (a user). */
export interface Presence {
  metas: PresenceMeta[];
}

/** key -> presence, as the server's `presence.state` frame and a layer's presenceList() carry it. */
export type PresenceMap = Record<string, Presence>;

/** What a `presence.diff` frame carries. */
export interface PresenceDiff {
  joins: PresenceMap;
  leaves: PresenceMap;
}

/**
 * Called for each key a sync changes. For a join, `current` is the key's presence before it (if
 * any) and `changed` holds only the metas that joined; for a leave, `current` is what remains and
 * `changed` the metas that left.
 */
export type PresenceCallback = (key: string, current: Presence | undefined, changed: Presence) => void;

/** Options of PresenceState. */
export interface PresenceStateOptions {
  /** Take only frames whose `group` is this one. Default: every group's frames. */
  group?: string;
  /** The type of the snapshot frame. Default "presence.state" (what `sendPresenceState()` sends). */
  stateType?: string;
  /** The type of the diff frame. Default "presence.diff" (what a WebsocketConsumer forwards). */
  diffType?: string;
}

/** Diffs kept while waiting for a snapshot; past this the oldest go (the snapshot restores them). */
const MAX_PENDING_DIFFS = 1000;

function copy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** A map with no prototype, so keys such as "constructor" are plain keys. */
function toMap(source: PresenceMap): PresenceMap {
  const map = Object.create(null) as PresenceMap;
  for (const key of Object.keys(source)) map[key] = source[key] as Presence;
  return map;
}

/**
 * Who is in a group, kept in step with the server as Phoenix's Presence does it: a
 * `presence.state` snapshot, then `presence.diff` joins and leaves. Given a client, it listens by
 * itself; after each (re)connection it waits for the next snapshot, holding the diffs that arrive
 * first. `onJoin` and `onLeave` see each change once, also across reconnects.
 */
export class PresenceState {
  private current: PresenceMap = Object.create(null) as PresenceMap;
  private pending: PresenceDiff[] | undefined = [];
  private joinCallback: PresenceCallback = () => undefined;
  private leaveCallback: PresenceCallback = () => undefined;
  private syncCallback: () => void = () => undefined;
  private readonly removers: (() => void)[] = [];

  constructor(client?: Pick<ChannelLayersClient, "on" | "lifecycle">, options: PresenceStateOptions = {}) {
    if (client === undefined) return;
    const mine = (message: ServerMessage) => options.group === undefined || message.group === options.group;
    this.removers.push(
      client.on(options.stateType ?? "presence.state", (message) => {
        if (mine(message)) this.syncState((message.state ?? {}) as PresenceMap);
      }),
      client.on(options.diffType ?? "presence.diff", (message) => {
        if (mine(message)) this.syncDiff(message as unknown as PresenceDiff);
      }),
      // A new connection gets a new snapshot: diffs until then are held, as on the first one.
      client.lifecycle.on("open", () => {
        this.pending = [];
      }),
    );
  }

  onJoin(callback: PresenceCallback): void {
    this.joinCallback = callback;
  }

  onLeave(callback: PresenceCallback): void {
    this.leaveCallback = callback;
  }

  /** Called after each snapshot or diff has been applied. */
  onSync(callback: () => void): void {
    this.syncCallback = callback;
  }

  /** A copy of the state: `{ [key]: { metas } }`. */
  get state(): PresenceMap {
    return copy({ ...this.current });
  }

  /** One item per key: `chooser(key, presence)`, or the presence itself. */
  list<T = Presence>(chooser?: (key: string, presence: Presence) => T): T[] {
    return Object.keys(this.current).map((key) => {
      const presence = copy(this.current[key] as Presence);
      return chooser === undefined ? (presence as T) : chooser(key, presence);
    });
  }

  /** Applies a snapshot (then any diffs held while waiting for it). */
  syncState(snapshot: PresenceMap): void {
    this.current = PresenceState.syncState(this.current, snapshot, this.joinCallback, this.leaveCallback);
    const held = this.pending ?? [];
    this.pending = undefined;
    for (const diff of held)
      this.current = PresenceState.syncDiff(this.current, diff, this.joinCallback, this.leaveCallback);
    this.syncCallback();
  }

  /** Applies a diff, or holds it until the next snapshot when one is awaited. */
  syncDiff(diff: PresenceDiff): void {
    if (this.pending !== undefined) {
      this.pending.push(diff);
      if (this.pending.length > MAX_PENDING_DIFFS) this.pending.shift();
      return;
    }
    this.current = PresenceState.syncDiff(this.current, diff, this.joinCallback, this.leaveCallback);
    this.syncCallback();
  }

  /** Stops listening to the client. */
  close(): void {
    for (const remove of this.removers.splice(0)) remove();
  }

  /**
   * The state after a snapshot: metas missing from it leave, metas new in it join (by ref), and
   * `onJoin` / `onLeave` run for those only. Returns a new map; `state` is not changed.
   */
  static syncState(
    state: PresenceMap,
    snapshot: PresenceMap,
    onJoin?: PresenceCallback,
    onLeave?: PresenceCallback,
  ): PresenceMap {
    const before = toMap(copy(state));
    const after = toMap(copy(snapshot));
    const joins = Object.create(null) as PresenceMap;
    const leaves = Object.create(null) as PresenceMap;
    for (const key of Object.keys(before)) {
      const refs = new Set((after[key]?.metas ?? []).map((meta) => meta.ref));
      const left = (before[key] as Presence).metas.filter((meta) => !refs.has(meta.ref));
      if (left.length > 0) leaves[key] = { metas: left };
    }
    for (const key of Object.keys(after)) {
      const refs = new Set((before[key]?.metas ?? []).map((meta) => meta.ref));
      const joined = (after[key] as Presence).metas.filter((meta) => !refs.has(meta.ref));
      if (joined.length > 0) joins[key] = { metas: joined };
    }
    return PresenceState.syncDiff(before, { joins, leaves }, onJoin, onLeave);
  }

  /**
   * The state after a diff: joined metas are added (a ref already there is replaced, not
   * repeated), left metas removed, and a key with no metas left is gone. Returns a new map.
   */
  static syncDiff(
    state: PresenceMap,
    diff: PresenceDiff,
    onJoin?: PresenceCallback,
    onLeave?: PresenceCallback,
  ): PresenceMap {
    const next = toMap(copy(state));
    const { joins, leaves } = copy({ joins: diff.joins ?? {}, leaves: diff.leaves ?? {} });
    for (const key of Object.keys(joins)) {
      const joined = joins[key] as Presence;
      const existing = next[key];
      const joinedRefs = new Set(joined.metas.map((meta) => meta.ref));
      const presentRefs = new Set((existing?.metas ?? []).map((meta) => meta.ref));
      const kept = (existing?.metas ?? []).filter((meta) => !joinedRefs.has(meta.ref));
      next[key] = { metas: [...kept, ...joined.metas] };
      // A join already applied (a track's own diff after the snapshot that holds it) is no news.
      const fresh = joined.metas.filter((meta) => !presentRefs.has(meta.ref));
      if (fresh.length > 0) onJoin?.(key, existing === undefined ? undefined : copy(existing), { metas: fresh });
    }
    for (const key of Object.keys(leaves)) {
      const existing = next[key];
      if (existing === undefined) continue;
      const leftRefs = new Set((leaves[key] as Presence).metas.map((meta) => meta.ref));
      const left = existing.metas.filter((meta) => leftRefs.has(meta.ref));
      if (left.length === 0) continue;
      existing.metas = existing.metas.filter((meta) => !leftRefs.has(meta.ref));
      onLeave?.(key, copy(existing), copy({ metas: left }));
      if (existing.metas.length === 0) delete next[key];
    }
    return next;
  }
}
