import { CapacityLookup } from "./capacity.js";
import { type ChannelLayer, Extension, type ReceiveOptions } from "./channel-layer.js";
import { AbortError, BackendUnavailable, ChannelLayerError, InvalidName, LayerClosed, Unsupported } from "./errors.js";
import type { GroupHistory, GroupHistoryOptions, GroupHistoryRule, HistoryOffset } from "./history.js";
import { assertHistoryOffset, GroupHistoryRules } from "./history-rules.js";
import { type LayerCounters, LayerDiagnostics } from "./layer-diagnostics.js";
import { LocalGroups } from "./local-groups.js";
import { type Logger, resolveLogger } from "./logger.js";
import { copyMessage, copyValidMessage, lastSizeLowerBound, type Message, validateMessage } from "./message.js";
import {
  assertChannelName,
  assertGroupName,
  INSTANCE_ID_BYTES,
  INSTANCE_ID_LENGTH,
  instanceIdOf,
  isProcessLocal,
  LOCAL_PART_BYTES,
  MAX_NAME_LENGTH,
  makeChannelName,
  randomHex,
} from "./names.js";
import { type ChannelLayerOptions, type ResolvedChannelLayerOptions, resolveOptions } from "./options.js";
import type { PresenceList, PresenceMeta } from "./presence.js";
import { assertPresenceKey, copyPresenceMeta, type PresenceEntry } from "./presence-entry.js";
import type { PresenceStore } from "./presence-store.js";
import { PresenceTracker } from "./presence-tracker.js";
import { MessageSerializer } from "./serializer.js";
import type { ChannelLayerStats } from "./stats.js";

const RECEIVABLE_CACHE_LIMIT = 10_000;
const RESOLVED = Promise.resolve();

/** Longest newChannel() prefix: the name adds `.`, the instance id, `!` and the local part. */
const MAX_CHANNEL_PREFIX_LENGTH = MAX_NAME_LENGTH - 1 - (INSTANCE_ID_LENGTH + 2 + LOCAL_PART_BYTES * 2);

/**
 * The public half of every channel layer, done once (validation, opening, closed state, aborts,
 * memberships for discardChannel), so a backend writes only the protected `_` half, which only
 * ever sees valid input on an open layer.
 */
export abstract class BaseChannelLayer implements ChannelLayer {
  abstract readonly extensions: readonly string[];
  readonly options: ResolvedChannelLayerOptions;
  /** Random id in every channel name this instance makes: `<prefix>.<instanceId>!<random>`. */
  protected readonly instanceId = randomHex(INSTANCE_ID_BYTES);
  /** Set by a layer that keeps message objects itself, so senders and receivers share nothing. */
  protected readonly copiesMessages: boolean = false;
  /** The `logger` option, else one that is quiet unless NODE_DEBUG names `channel-layers:<backend>`. */
  protected readonly logger: Logger;
  /** Counters, diagnostics channel and rate-limited log; hand it to the parts that see drops and reconnects. */
  protected readonly diagnostics: LayerDiagnostics;
  private readonly counters: LayerCounters;
  private readonly capacities: CapacityLookup;
  /** Groups this instance added each channel to, for discardChannel. */
  private readonly memberships = new LocalGroups();
  /** Groups that keep history, by the groupHistory option. */
  private readonly historyRules: GroupHistoryRules;
  /** This instance's presence tracks, heartbeat and diffs. */
  private readonly presence: PresenceTracker;
  /** Channels receive() has checked lately: a consumer receives on one name over and over. */
  private readonly receivable = new Set<string>();
  private isOpen = false;
  private opening: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private sizeProbe: MessageSerializer | undefined;
  /**
   * Where this layer keeps presence entries: a layer listing Extension.presence sets it in its
   * constructor (or overrides the `_presence*` methods instead).
   */
  protected presenceStore: PresenceStore | undefined;

  /** `backend` names the logger namespace, the diagnostics channel and stats().backend. */
  constructor(options: ChannelLayerOptions = {}, backend = "custom") {
    this.options = resolveOptions(options);
    this.capacities = new CapacityLookup(this.options.capacity, this.options.channelCapacity);
    this.logger = resolveLogger(options.logger, `channel-layers:${backend}`);
    this.diagnostics = new LayerDiagnostics(backend, this.instanceId, this.logger);
    this.counters = this.diagnostics.counters;
    this.historyRules = new GroupHistoryRules(this.options.groupHistory);
    this.presence = new PresenceTracker(
      this,
      {
        track: (entry, replaced, ttlMs) => this._presenceTrack(entry, replaced, ttlMs),
        untrack: (entries) => this._presenceUntrack(entries),
        list: (group) => this._presenceList(group),
        refresh: (entries, ttlMs) => this._presenceRefresh(entries, ttlMs),
        sweep: () => this._presenceSweep(),
        groupSend: (group, message) => {
          this.counters.groupSends++;
          return this._groupSend(group, message);
        },
      },
      this.instanceId,
      this.options.presenceHeartbeatMs,
      this.options.presenceTimeoutMs,
      this.diagnostics,
    );
    if (this._open === BaseChannelLayer.prototype._open) this.isOpen = true;
    // Opening starts once the subclass's constructor has run, or at the first call if that is sooner.
    else queueMicrotask(() => this.startOpening());
  }

  /** Whether close() has been called. */
  get closed(): boolean {
    return this.closing !== undefined;
  }

  /**
   * The common counters since the layer was made. A backend's public `stats()` returns them with
   * its own fields beside them: `{ ...this.commonStats(), channels: ... }`.
   */
  protected commonStats(): ChannelLayerStats {
    return this.diagnostics.snapshot();
  }

  async newChannel(prefix = "specific"): Promise<string> {
    this.assertOpen();
    if (typeof prefix !== "string" || prefix.length > MAX_CHANNEL_PREFIX_LENGTH || !/^[a-zA-Z\d\-_.]+$/.test(prefix)) {
      throw new InvalidName(
        `newChannel prefix must be at most ${MAX_CHANNEL_PREFIX_LENGTH} ASCII letters, digits, hyphens, underscores or periods; got ${JSON.stringify(prefix)}`,
      );
    }
    if (!this.isOpen) await this.opened();
    const channel = makeChannelName(prefix, this.instanceId);
    await this._newChannel(channel);
    return channel;
  }

  // send, receive and groupSend are the hot path: once open, plain functions that return the
  // transport's promise, rather than async ones that would wrap it in another.
  send(channel: string, message: Message): Promise<void> {
    try {
      this.assertOpen();
      assertChannelName(channel);
      const admitted = this.admit(message);
      if (!this.isOpen) {
        const kept = this.keepUntilOpen(admitted);
        return this.opened().then(() => this.sendNow(channel, kept));
      }
      return this.sendNow(channel, admitted);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  receive(channel: string, options?: ReceiveOptions): Promise<Message> {
    try {
      this.assertOpen();
      if (!this.receivable.has(channel)) this.checkReceivable(channel);
      const signal = options?.signal;
      if (signal?.aborted) throw new AbortError(signal.reason);
      if (!this.isOpen) return this.receiveOnceOpen(channel, signal);
      return this._receive(channel, signal);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async groupAdd(group: string, channel: string): Promise<void> {
    this.assertOpen();
    assertGroupName(group);
    assertChannelName(channel);
    if (!this.isOpen) await this.opened();
    this.memberships.add(group, channel);
    return this._groupAdd(group, channel);
  }

  async groupDiscard(group: string, channel: string): Promise<void> {
    this.assertOpen();
    assertGroupName(group);
    assertChannelName(channel);
    if (!this.isOpen) await this.opened();
    this.memberships.remove(group, channel);
    return this._groupDiscard(group, channel);
  }

  groupSend(group: string, message: Message): Promise<void> {
    try {
      this.assertOpen();
      assertGroupName(group);
      const admitted = this.admit(message);
      if (!this.isOpen) {
        const kept = this.keepUntilOpen(admitted);
        return this.opened().then(() => this.groupSendNow(group, kept));
      }
      return this.groupSendNow(group, admitted);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async discardChannel(channel: string): Promise<void> {
    this.assertOpen();
    assertChannelName(channel);
    if (!this.isOpen) await this.opened();
    // Its presences leave first, while the group still reaches the others.
    const untracking = this.presence.discardChannel(channel);
    if (untracking !== undefined) await untracking;
    return this._discardChannel(channel, this.memberships.removeChannel(channel));
  }

  async flush(): Promise<void> {
    this.assertOpen();
    if (!this.isOpen) await this.opened();
    this.memberships.clear();
    this.presence.clear();
    return this._flush();
  }

  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    // Presences leave while the layer can still say so; an open under way finishes first, so
    // _close never races _open.
    const presenceClosed = this.presence.close();
    if (presenceClosed !== undefined) this.closing = presenceClosed.then(() => this._close());
    else this.closing = this.opening ? this.opening.then(noop, noop).then(() => this._close()) : this._close();
    return this.closing;
  }

  async presenceTrack(group: string, channel: string, key: string, meta?: PresenceMeta): Promise<string> {
    this.assertOpen();
    this.assertExtension(Extension.presence, "presenceTrack");
    assertGroupName(group);
    assertChannelName(channel);
    assertPresenceKey(key);
    const copy = copyPresenceMeta(meta);
    if (!this.isOpen) await this.opened();
    return this.presence.track(group, channel, key, copy);
  }

  async presenceUntrack(group: string, channel: string, key: string): Promise<void> {
    this.assertOpen();
    this.assertExtension(Extension.presence, "presenceUntrack");
    assertGroupName(group);
    assertChannelName(channel);
    assertPresenceKey(key);
    if (!this.isOpen) await this.opened();
    return this.presence.untrack(group, channel, key);
  }

  async presenceList(group: string): Promise<PresenceList> {
    this.assertOpen();
    this.assertExtension(Extension.presence, "presenceList");
    assertGroupName(group);
    if (!this.isOpen) await this.opened();
    return this.presence.list(group);
  }

  /** The history rule of `group` (the first matching groupHistory pattern), or undefined. */
  groupHistoryRule(group: string): GroupHistoryRule | undefined {
    return this.historyRules.ruleFor(group);
  }

  async groupHistory(group: string, options: GroupHistoryOptions): Promise<GroupHistory> {
    this.assertOpen();
    this.assertExtension(Extension.history, "groupHistory");
    assertGroupName(group);
    const after = (options as Partial<GroupHistoryOptions> | undefined)?.after;
    assertHistoryOffset(after);
    const rule = this.historyRules.ruleFor(group);
    if (rule === undefined) {
      throw new Unsupported(`Group ${group} keeps no history: add a groupHistory rule that matches it`);
    }
    if (!this.isOpen) await this.opened();
    return this._groupHistory(group, after, rule);
  }

  /** Message expiry in milliseconds. */
  protected get expiryMs(): number {
    return this.options.expiry * 1000;
  }

  /** Group membership expiry in milliseconds. */
  protected get groupExpiryMs(): number {
    return this.options.groupExpiry * 1000;
  }

  /** The capacity of `channel`: its first matching channelCapacity rule, else `capacity`. */
  protected capacityFor(channel: string): number {
    return this.capacities.capacityFor(channel);
  }

  /** Whether this instance's newChannel() made `channel`. */
  protected isOwnChannel(channel: string): boolean {
    return instanceIdOf(channel) === this.instanceId;
  }

  /** Throws LayerClosed once close() has been called. */
  protected assertOpen(): void {
    if (this.closing !== undefined) throw new LayerClosed();
  }

  private sendNow(channel: string, message: Message): Promise<void> {
    this.counters.sent++;
    return this._send(channel, message);
  }

  private groupSendNow(group: string, message: Message): Promise<void> {
    this.counters.groupSends++;
    const rule = this.historyRules.isEmpty ? undefined : this.historyRules.ruleFor(group);
    if (rule === undefined) return this._groupSend(group, message);
    if (!this.extensions.includes(Extension.history)) {
      return Promise.reject(
        new Unsupported(
          `${this.constructor.name} keeps no group history, but groupHistory names group ${group}: remove the option or use a layer that lists the history extension`,
        ),
      );
    }
    return this._groupSendWithHistory(group, message, rule);
  }

  /** Throws UNSUPPORTED unless this layer lists `extension`. */
  private assertExtension(extension: string, call: string): void {
    if (!this.extensions.includes(extension)) {
      throw new Unsupported(
        `${this.constructor.name} does not list the ${extension} extension, so it has no ${call}()`,
      );
    }
  }

  /** A message held while the layer opens is the layer's own copy: the sender may change its object meanwhile. */
  private keepUntilOpen(message: Message): Message {
    return this.copiesMessages ? message : copyMessage(message);
  }

  private startOpening(): void {
    if (this.isOpen || this.closing !== undefined) return;
    this.opened().catch(noop);
  }

  /**
   * Resolves once the layer is open; throws LayerClosed if it was closed meanwhile. A failed open
   * rejects the calls that waited for it, and the next call tries again.
   */
  private opened(): Promise<void> {
    if (!this.isOpen && this.opening === undefined) {
      this.opening = RESOLVED.then(() => this._open()).then(
        () => {
          this.opening = undefined;
          this.isOpen = true;
        },
        (cause: unknown) => {
          this.opening = undefined;
          this.diagnostics.openFailed(cause);
          throw this.openError(cause);
        },
      );
    }
    const ready = this.opening ?? RESOLVED;
    return ready.then(() => this.assertOpen());
  }

  private openError(cause: unknown): ChannelLayerError {
    if (cause instanceof ChannelLayerError) return cause;
    const reason = cause instanceof Error ? cause.message : String(cause);
    return new BackendUnavailable(
      `Could not open the ${this.diagnostics.backend} channel layer (${reason}); the next call tries again`,
      { cause },
    );
  }

  /** A receive made before the layer is open: its signal can abort it while it waits. */
  private receiveOnceOpen(channel: string, signal: AbortSignal | undefined): Promise<Message> {
    if (signal === undefined) return this.opened().then(() => this._receive(channel, undefined));
    return new Promise<Message>((resolve, reject) => {
      const onAbort = () => reject(new AbortError(signal.reason));
      signal.addEventListener("abort", onAbort, { once: true });
      this.opened().then(
        () => {
          signal.removeEventListener("abort", onAbort);
          if (signal.aborted) return;
          this._receive(channel, signal).then(resolve, reject);
        },
        (error: unknown) => {
          signal.removeEventListener("abort", onAbort);
          reject(error);
        },
      );
    });
  }

  /** Checks a name receive() has not seen lately, remembering it when it passes. */
  private checkReceivable(channel: string): void {
    assertChannelName(channel);
    if (isProcessLocal(channel) && !this.isOwnChannel(channel)) {
      throw new ChannelLayerError(
        "NOT_LOCAL_CHANNEL",
        `Channel ${channel} was made by another layer instance's newChannel(); only that instance can receive on it`,
      );
    }
    if (this.receivable.size >= RECEIVABLE_CACHE_LIMIT) this.receivable.clear();
    this.receivable.add(channel);
  }

  private admit(message: Message): Message {
    if (!this.copiesMessages) {
      validateMessage(message);
      return message;
    }
    const copy = copyValidMessage(message);
    // UTF-8 takes at most 3 bytes per UTF-16 unit, so only a message this close to the limit is
    // worth encoding to learn its exact size.
    if (lastSizeLowerBound() * 3 > this.options.maxMessageSize) {
      this.sizeProbe ??= new MessageSerializer({ maxMessageSize: this.options.maxMessageSize });
      this.sizeProbe.encode(copy);
    }
    return copy;
  }

  /**
   * Whatever must happen before the first call (connect, prepare, subscribe); started by the base,
   * awaited by early calls. A failure rejects them and the next call runs it again, so it must
   * leave nothing behind. Default: nothing, and the layer is open at once.
   */
  protected _open(): Promise<void> {
    return RESOLVED;
  }
  /** Called with each name newChannel() makes, before it is returned. */
  protected _newChannel(_channel: string): void | Promise<void> {}
  /** Queues a valid message; throws ChannelFull at `capacityFor(channel)` if the layer has capacity. */
  protected abstract _send(channel: string, message: Message): Promise<void>;
  /** Resolves with the next message; rejects with AbortError on abort and LayerClosed on close. */
  protected abstract _receive(channel: string, signal: AbortSignal | undefined): Promise<Message>;
  protected abstract _groupAdd(group: string, channel: string): Promise<void>;
  protected abstract _groupDiscard(group: string, channel: string): Promise<void>;
  /** Delivers to every member that has room, skipping full ones. */
  protected abstract _groupSend(group: string, message: Message): Promise<void>;
  /** Drops the channel's local buffer, rejects its receives, removes it from `groups`. */
  protected abstract _discardChannel(channel: string, groups: readonly string[]): Promise<void>;
  protected abstract _flush(): Promise<void>;
  /**
   * History (layers listing Extension.history): numbers `message` with the group's next offset,
   * keeps it (trimming to `rule`), and delivers `stampHistory(message, group, offset)` to every
   * member with room. Offsets of a group strictly increase and are never reissued.
   */
  protected _groupSendWithHistory(_group: string, _message: Message, _rule: GroupHistoryRule): Promise<void> {
    return Promise.reject(new Unsupported(`${this.constructor.name} does not implement _groupSendWithHistory`));
  }
  /** History: the kept messages after `after`, oldest first, and whether nothing after it is missing (see GroupHistory). */
  protected _groupHistory(_group: string, _after: HistoryOffset, _rule: GroupHistoryRule): Promise<GroupHistory> {
    return Promise.reject(new Unsupported(`${this.constructor.name} does not implement _groupHistory`));
  }
  /**
   * Presence (layers listing Extension.presence): stores `entry`, alive for `ttlMs`, and removes
   * `replaced` (the same group, channel and key tracked before), atomically where the backend can.
   * Resolves false when `replaced` was already gone (a sweep removed it and sent its leave), as
   * the removal itself reports it (ZREM's reply, `RETURNING`, a purge's count); true when this call
   * removed it (or there was none), and the diff carries its leave. An older backend resolving
   * nothing is read as true.
   */
  protected _presenceTrack(entry: PresenceEntry, replaced: PresenceEntry | undefined, ttlMs: number): Promise<boolean> {
    return this.callPresenceStore("_presenceTrack", (store) => store.track(entry, replaced, ttlMs));
  }
  /** Presence: removes `entries` and returns those that were still there (so their leave is sent once). */
  protected _presenceUntrack(entries: readonly PresenceEntry[]): Promise<PresenceEntry[]> {
    return this.callPresenceStore("_presenceUntrack", (store) => store.untrack(entries));
  }
  /** Presence: the group's entries, of every instance (lapsed ones not yet swept may be among them). */
  protected _presenceList(group: string): Promise<PresenceEntry[]> {
    return this.callPresenceStore("_presenceList", (store) => store.list(group));
  }
  /**
   * Presence heartbeat: keeps this instance's `entries` alive for another `ttlMs`, never
   * re-creating one that is gone; returns the ones that are gone (swept while this instance was
   * unresponsive), which the base tracks again.
   */
  protected _presenceRefresh(entries: readonly PresenceEntry[], ttlMs: number): Promise<PresenceEntry[]> {
    return this.callPresenceStore("_presenceRefresh", (store) => store.refresh(entries, ttlMs));
  }
  /**
   * Presence heartbeat: removes every lapsed entry, of any instance, and returns what this call
   * removed. Each entry must be removed by exactly one call across all instances (ZREM or a Lua
   * script, DELETE ... RETURNING, a revision-checked delete), since the caller sends its leave.
   */
  protected _presenceSweep(): Promise<PresenceEntry[]> {
    return this.callPresenceStore("_presenceSweep", (store) => store.sweep());
  }

  /** `call` on the layer's presence store, as a promise (a throw becomes a rejection); Unsupported without one. */
  private callPresenceStore<T>(method: string, call: (store: PresenceStore) => T | Promise<T>): Promise<T> {
    const store = this.presenceStore;
    if (store === undefined) {
      return Promise.reject(new Unsupported(`${this.constructor.name} does not implement ${method}`));
    }
    try {
      return Promise.resolve(call(store));
    } catch (error) {
      return Promise.reject(error);
    }
  }
  /**
   * Releases resources; pending receives must reject with LayerClosed. Called once, after any
   * open under way has settled, and also when the layer never opened or its open failed.
   */
  protected abstract _close(): Promise<void>;
}

function noop(): void {}
