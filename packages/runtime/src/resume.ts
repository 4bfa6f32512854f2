import { type HistoryChannelLayer, type HistoryOffset, type Message, positionOf } from "@channel-layers/core";
import { assertHistoryOffset } from "@channel-layers/core/backend";

/** The frame a client sends first on a new connection: `{ type, offsets: { [group]: offset } }`. */
export const RESUME_TYPE = "channel_layers.resume";
/** The frame a consumer sends when a group's history no longer reaches back to the client's offset. */
export const GAP_TYPE = "channel_layers.gap";
/** How @channel-layers/client (JSON.stringify) starts the resume frame: checked before any parsing. */
const RESUME_PREFIX = `{"type":"${RESUME_TYPE}"`;

/** Whether a text frame is the client's resume frame, as the client writes it; returns its offsets. */
export function resumeOffsetsOf(text: string): unknown {
  if (!text.startsWith(RESUME_PREFIX)) return undefined;
  try {
    const content = JSON.parse(text) as { type?: unknown; offsets?: unknown };
    return content.type === RESUME_TYPE ? (content.offsets ?? {}) : undefined;
  } catch {
    return undefined;
  }
}

/** One history group a consumer is in. */
interface JoinedGroup {
  /** How many offsets to remember at most: the group's maxLength (what a replay can hold). */
  readonly limit: number;
  /** Offsets handled live before the client's resume frame: the replay skips them. */
  recorded: Set<HistoryOffset> | undefined;
  /** Offsets the replay handled: their live copies, if they come, are duplicates. */
  replayed: Set<HistoryOffset> | undefined;
}

const GROUP_NAME = /^[a-zA-Z\d\-_.]{1,99}$/;

/** Whether a client's value could be an offset the layer gave: the client's input is never trusted further. */
function isOffset(value: unknown): value is HistoryOffset {
  try {
    assertHistoryOffset(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * What one WebsocketConsumer remembers to resume a client: the history groups it is in, the
 * offsets it handled before the client's resume frame (so the replay skips them), the ones the
 * replay handled (so their live copies are dropped), and offsets for groups it joins later.
 */
export class ResumeState {
  private readonly groups = new Map<string, JoinedGroup>();
  private readonly pending = new Map<string, HistoryOffset>();
  /** The client's first frame was handled (its resume frame, or anything else): nothing more to wait for. */
  private settled = false;

  constructor(readonly layer: HistoryChannelLayer) {}

  /** Whether the consumer is in any group that keeps history. */
  get inHistoryGroups(): boolean {
    return this.groups.size > 0;
  }

  /** The consumer joined `group`; returns the client's offset for it when one waits to be replayed. */
  joined(group: string): HistoryOffset | undefined {
    const rule = this.layer.groupHistoryRule(group);
    if (rule === undefined) return undefined;
    if (!this.groups.has(group)) {
      this.groups.set(group, {
        limit: rule.maxLength,
        recorded: this.settled ? undefined : new Set(),
        replayed: undefined,
      });
    }
    const after = this.pending.get(group);
    this.pending.delete(group);
    return after;
  }

  left(group: string): void {
    this.groups.delete(group);
  }

  /**
   * Takes the offsets of the client's resume frame: returns `[group, after]` for the groups the
   * consumer is in, and keeps the others for when it joins them. Malformed entries are ignored.
   */
  takeOffsets(offsets: unknown): [string, HistoryOffset][] {
    this.settled = true;
    const ready: [string, HistoryOffset][] = [];
    if (typeof offsets !== "object" || offsets === null || Array.isArray(offsets)) return ready;
    for (const [group, after] of Object.entries(offsets)) {
      if (!GROUP_NAME.test(group) || !isOffset(after) || this.layer.groupHistoryRule(group) === undefined) continue;
      if (this.groups.has(group)) ready.push([group, after]);
      else this.pending.set(group, after);
    }
    for (const [group, state] of this.groups) if (!ready.some(([name]) => name === group)) state.recorded = undefined;
    return ready;
  }

  /** The client's first frame was not a resume frame: no replay is coming for what is joined now. */
  noResume(): void {
    if (this.settled) return;
    this.settled = true;
    for (const state of this.groups.values()) state.recorded = undefined;
  }

  /** Starts the replay of `group`: returns the offsets already handled live, which it skips. */
  startReplay(group: string): ReadonlySet<HistoryOffset> {
    const state = this.groups.get(group);
    if (state === undefined) return new Set();
    const recorded = state.recorded ?? new Set<HistoryOffset>();
    state.recorded = undefined;
    state.replayed ??= new Set();
    return recorded;
  }

  /** The replay handled `offset` of `group`. */
  replayed(group: string, offset: HistoryOffset): void {
    const state = this.groups.get(group);
    if (state?.replayed === undefined) return;
    remember(state.replayed, offset, state.limit);
  }

  /** Whether a live message from the layer was already replayed (then it is dropped); records it otherwise. */
  isDuplicate(message: Message): boolean {
    const position = positionOf(message);
    if (position === undefined) return false;
    const state = this.groups.get(position.group);
    if (state === undefined) return false;
    // Each message reaches a channel once, so a matched offset cannot come again.
    if (state.replayed?.delete(position.offset)) return true;
    if (state.recorded !== undefined) remember(state.recorded, position.offset, state.limit);
    return false;
  }
}

/** Adds `offset`, forgetting the oldest beyond `limit` (a replay never holds more than the group keeps). */
function remember(offsets: Set<HistoryOffset>, offset: HistoryOffset, limit: number): void {
  offsets.add(offset);
  if (offsets.size > limit) offsets.delete(offsets.values().next().value as HistoryOffset);
}
