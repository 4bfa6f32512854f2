import type { LayerDiagnostics } from "./layer-diagnostics.js";
import type { Message } from "./message.js";
import { randomHex } from "./names.js";
import type { PresenceList, PresenceMeta } from "./presence.js";
import { entriesByGroup, type PresenceEntry, presenceDiff, presenceListOf } from "./presence-entry.js";

/** What the tracker asks of the backend: the layer's protected `_presence*` half and its plain group send. */
export interface PresenceStore {
  /** False when `replaced` was already gone (its remover sent its leave); true when this call removed it, or none. */
  track(entry: PresenceEntry, replaced: PresenceEntry | undefined, ttlMs: number): Promise<boolean>;
  untrack(entries: readonly PresenceEntry[]): Promise<PresenceEntry[]>;
  list(group: string): Promise<PresenceEntry[]>;
  refresh(entries: readonly PresenceEntry[], ttlMs: number): Promise<PresenceEntry[]>;
  sweep(): Promise<PresenceEntry[]>;
  /** Delivers a diff to the group's members, outside any history. */
  groupSend(group: string, message: Message): Promise<void>;
}

/** Test hooks for the suite (see presenceTestControl). */
export interface PresenceTestControl {
  /** As a SIGKILL: no more refreshes nor sweeps, and nothing is untracked (not on discardChannel, not on close). */
  crash(): void;
  /** Stops refreshing this instance's own entries (it goes on sweeping), as a process that lost its writes. */
  pauseRefresh(): void;
  /** Refreshes at once (tracking again what was swept meanwhile, with join diffs) and goes on as before. */
  resumeRefresh(): Promise<void>;
}

const RESOLVED = Promise.resolve();
const trackers = new WeakMap<object, PresenceTracker>();

/** The test hooks of a layer built on BaseChannelLayer; undefined for any other layer. */
export function presenceTestControl(layer: object): PresenceTestControl | undefined {
  const tracker = trackers.get(layer);
  if (tracker === undefined) return undefined;
  return {
    crash: () => tracker.crash(),
    pauseRefresh: () => tracker.pauseRefresh(),
    resumeRefresh: () => tracker.resumeRefresh(),
  };
}

function idOf(group: string, channel: string, key: string): string {
  // Group and channel names cannot hold "\0"; the key comes last, so ids never collide.
  return `${group}\0${channel}\0${key}`;
}

/**
 * The presence half BaseChannelLayer does once: this instance's tracks (to refresh, to untrack on
 * discardChannel and close), the heartbeat that refreshes them and sweeps lapsed entries of every
 * instance, and the diffs. Calls on one group, channel and key run one at a time, in call order.
 */
export class PresenceTracker {
  private readonly entries = new Map<string, PresenceEntry>();
  private readonly channelIds = new Map<string, Set<string>>();
  private readonly queues = new Map<string, Promise<unknown>>();
  private state: "idle" | "running" | "crashed" | "closed" = "idle";
  private refreshPaused = false;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;

  constructor(
    layer: object,
    private readonly store: PresenceStore,
    private readonly instanceId: string,
    private readonly heartbeatMs: number,
    private readonly timeoutMs: number,
    private readonly diagnostics: LayerDiagnostics,
  ) {
    trackers.set(layer, this);
  }

  /** This instance's tracks now. */
  get size(): number {
    return this.entries.size;
  }

  track(group: string, channel: string, key: string, meta: PresenceMeta): Promise<string> {
    const id = idOf(group, channel, key);
    return this.serialize(id, async () => {
      const replaced = this.entries.get(id);
      const entry: PresenceEntry = { group, key, channel, ref: randomHex(10), meta, instance: this.instanceId };
      this.start();
      const replacedWasThere = await this.store.track(entry, replaced, this.timeoutMs);
      if (this.state === "crashed") return entry.ref;
      this.remember(id, entry);
      // False: a sweep removed it first (this instance stalled) and sent its leave. Only false, as
      // a backend written before this was asked resolves nothing.
      const leaves = replaced === undefined || replacedWasThere === false ? [] : [replaced];
      await this.store.groupSend(group, presenceDiff(group, [entry], leaves));
      return entry.ref;
    });
  }

  untrack(group: string, channel: string, key: string): Promise<void> {
    const id = idOf(group, channel, key);
    return this.serialize(id, () => this.untrackNow(id));
  }

  async list(group: string): Promise<PresenceList> {
    this.start();
    return presenceListOf(await this.store.list(group));
  }

  /**
   * Untracks every track of `channel` (its consumer is gone). A failure is reported, not thrown:
   * the entries are forgotten here, so they lapse as a dead process's do. Undefined (no wait) when
   * the channel tracks nothing, so discardChannel keeps its call order.
   */
  discardChannel(channel: string): Promise<void> | undefined {
    const ids = this.channelIds.get(channel);
    if (ids === undefined) return undefined;
    return Promise.all([...ids].map((id) => this.serialize(id, () => this.untrackNow(id)))).then(
      () => undefined,
      (error: unknown) => {
        this.diagnostics.backgroundError(error, { during: "presence untrack on discardChannel", channel });
      },
    );
  }

  /** Forgets this instance's tracks without untracking them (flush removed them from the backend). */
  clear(): void {
    this.entries.clear();
    this.channelIds.clear();
  }

  /**
   * Stops the heartbeat and untracks what is left, so the others see the leaves now, not after the
   * timeout. Undefined when presence was never used here: nothing to wait for.
   */
  close(): Promise<void> | undefined {
    const wasRunning = this.state === "running";
    if (this.state !== "crashed") this.state = "closed";
    if (!wasRunning) return undefined;
    clearTimeout(this.timer);
    return this.untrackAllOnClose();
  }

  private async untrackAllOnClose(): Promise<void> {
    await this.ticking;
    if (this.entries.size === 0) return;
    const left = [...this.entries.values()];
    this.clear();
    try {
      await this.sendLeaves(await this.store.untrack(left));
    } catch (error) {
      // They lapse like a dead process's entries; nobody waits on close for them.
      this.diagnostics.backgroundError(error, { during: "presence untrack on close", entries: left.length });
    }
  }

  crash(): void {
    this.state = "crashed";
    clearTimeout(this.timer);
    this.clear();
  }

  pauseRefresh(): void {
    this.refreshPaused = true;
  }

  async resumeRefresh(): Promise<void> {
    this.refreshPaused = false;
    await this.ticking;
    if (this.state !== "running") return;
    clearTimeout(this.timer);
    await this.tick();
  }

  private async untrackNow(id: string): Promise<void> {
    const entry = this.entries.get(id);
    if (entry === undefined) return;
    // Forgotten before the I/O, so a heartbeat running meanwhile does not track it again.
    this.forget(id, entry);
    const removed = await this.store.untrack([entry]);
    await this.sendLeaves(removed);
  }

  private async sendLeaves(removed: readonly PresenceEntry[]): Promise<void> {
    for (const [group, leaves] of entriesByGroup(removed)) {
      await this.store.groupSend(group, presenceDiff(group, [], leaves));
    }
  }

  private start(): void {
    if (this.state !== "idle") return;
    this.state = "running";
    this.schedule();
  }

  private schedule(): void {
    if (this.state !== "running") return;
    this.timer = setTimeout(() => {
      this.tick().catch(() => undefined);
    }, this.heartbeatMs);
    this.timer.unref();
  }

  /** One heartbeat: refresh this instance's entries (tracking again those swept meanwhile), then sweep. */
  private tick(): Promise<void> {
    this.ticking ??= this.beat().finally(() => {
      this.ticking = undefined;
      this.schedule();
    });
    return this.ticking;
  }

  private async beat(): Promise<void> {
    try {
      if (!this.refreshPaused && this.entries.size > 0) {
        const lost = await this.store.refresh([...this.entries.values()], this.timeoutMs);
        for (const entry of lost) await this.trackAgain(entry);
      }
      if (this.state !== "running") return;
      await this.sendLeaves(await this.store.sweep());
    } catch (error) {
      this.diagnostics.backgroundError(error, { during: "presence heartbeat" });
    }
  }

  /** An entry of ours that was swept while we were unresponsive: put it back, and say so. */
  private trackAgain(lost: PresenceEntry): Promise<void> {
    const id = idOf(lost.group, lost.channel, lost.key);
    return this.serialize(id, async () => {
      if (this.entries.get(id)?.ref !== lost.ref || this.state !== "running") return;
      await this.store.track(lost, undefined, this.timeoutMs);
      await this.store.groupSend(lost.group, presenceDiff(lost.group, [lost], []));
    });
  }

  private remember(id: string, entry: PresenceEntry): void {
    this.entries.set(id, entry);
    let ids = this.channelIds.get(entry.channel);
    if (ids === undefined) {
      ids = new Set();
      this.channelIds.set(entry.channel, ids);
    }
    ids.add(id);
  }

  private forget(id: string, entry: PresenceEntry): void {
    this.entries.delete(id);
    const ids = this.channelIds.get(entry.channel);
    if (ids?.delete(id) && ids.size === 0) this.channelIds.delete(entry.channel);
  }

  /** Runs `operation` after every earlier one on `id`, whether those succeeded or not. */
  private serialize<T>(id: string, operation: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(id) ?? RESOLVED;
    const result = previous.then(operation, operation);
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(id, settled);
    settled.then(() => {
      if (this.queues.get(id) === settled) this.queues.delete(id);
    });
    return result;
  }
}
