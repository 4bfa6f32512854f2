/** Longest a receive that got a group's message is kept waiting for that group's next ones. */
export const MAX_HOLD_MS = 5;
/** Wakes released per turn: between them the turn's I/O runs, so the group's next groupSend answers meanwhile. */
export const RELEASE_CHUNK = 20;

/** One group's sends in flight from this instance, and the wakes its messages wait with. */
interface GroupHold {
  inFlight: number;
  /** One of its groupSends answered since the last check: its wakes wait for the check. */
  answered: boolean;
  wakes: (() => void)[];
  heldSince: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Holds the wake-ups of receives that took a group's message while this instance's next
 * groupSend to the same group is in flight, and releases them together. Channels' consumers
 * await each groupSend, so a burst of messages to a room reaches the room one Redis round trip
 * apart; woken one message at a time, every member writes one frame per turn, one system call
 * per message per socket. Held across the round trips of the groupSends that follow (at most
 * MAX_HOLD_MS), each member wakes once for several messages, takes the rest from its buffer in
 * the same turn, and the server writes them together. They are released RELEASE_CHUNK a turn, so
 * the next groupSend's answer is not stuck behind a thousand members' handlers. A group with no
 * groupSend in flight is
 * released at the end of the turn its last one answered in, so one message at a time (and every
 * other group) waits for nothing. Messages are never held: they sit in their mailboxes, counted
 * against capacity, as before; only the resolution of the receive that took one waits.
 */
export class WakeGate {
  private readonly groups = new Map<string, GroupHold>();
  private checkScheduled = false;

  /** A groupSend to `group` was sent to Redis. */
  begin(group: string): void {
    let hold = this.groups.get(group);
    if (hold === undefined) {
      hold = { inFlight: 0, answered: false, wakes: [], heldSince: 0, timer: undefined };
      this.groups.set(group, hold);
    }
    hold.inFlight++;
  }

  /** A groupSend to `group` answered (or failed); its own members have been handed their message. */
  ended(group: string): void {
    const hold = this.groups.get(group);
    if (hold === undefined) return;
    hold.inFlight--;
    hold.answered = true;
    this.scheduleCheck();
  }

  /** `value` now, or once the wakes held for `group` (a group message's) are released. */
  pass<T>(group: string | undefined, value: T | Promise<T>): T | Promise<T> {
    const hold = group === undefined ? undefined : this.groups.get(group);
    if (hold === undefined || (hold.wakes.length === 0 && hold.inFlight === 0 && !hold.answered)) return value;
    return new Promise<T>((resolve) => {
      if (hold.wakes.length === 0) {
        hold.heldSince = Date.now();
        hold.timer = setTimeout(() => this.release(hold), MAX_HOLD_MS);
      }
      hold.wakes.push(() => resolve(value));
      this.scheduleCheck();
    });
  }

  /** Releases every held wake now (the layer is closing). */
  releaseAll(): void {
    for (const hold of this.groups.values()) this.release(hold);
    this.groups.clear();
  }

  private release(hold: GroupHold): void {
    if (hold.timer !== undefined) clearTimeout(hold.timer);
    hold.timer = undefined;
    const wakes = hold.wakes;
    hold.wakes = [];
    this.wakeFrom(wakes, 0);
  }

  private wakeFrom(wakes: (() => void)[], first: number): void {
    const end = Math.min(first + RELEASE_CHUNK, wakes.length);
    if (end < wakes.length) setImmediate(() => this.wakeFrom(wakes, end));
    for (let i = first; i < end; i++) (wakes[i] as () => void)();
  }

  private scheduleCheck(): void {
    if (this.checkScheduled) return;
    this.checkScheduled = true;
    setImmediate(this.check);
  }

  /** After the turn's I/O: a group keeps its wakes while its next groupSend is in flight (within MAX_HOLD_MS). */
  private readonly check = (): void => {
    this.checkScheduled = false;
    const now = Date.now();
    for (const [group, hold] of this.groups) {
      hold.answered = false;
      if (hold.wakes.length > 0 && (hold.inFlight === 0 || now - hold.heldSince >= MAX_HOLD_MS)) this.release(hold);
      if (hold.inFlight === 0 && hold.wakes.length === 0) this.groups.delete(group);
    }
  };
}
