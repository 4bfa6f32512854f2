import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MAX_HOLD_MS, RELEASE_CHUNK, WakeGate } from "../src/wake-gate.js";

// The gate's rules on their own (the layer's tests cover it with Redis): a wake waits only while
// its group's next groupSend is in flight, never past MAX_HOLD_MS, and nothing is ever dropped.
describe("WakeGate", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Resolves the settled state of `promise` after the fake clock moves `ms` and the turn's checks run. */
  async function settledAfter(ms: number, ...promises: Promise<unknown>[]): Promise<number> {
    let settled = 0;
    for (const promise of promises) void promise.then(() => settled++);
    await vi.advanceTimersByTimeAsync(ms);
    return settled;
  }

  it("passes a value at once when its group has no groupSend in flight, or it has no group", () => {
    const gate = new WakeGate();
    expect(gate.pass(undefined, "a")).toBe("a");
    expect(gate.pass("room", "b")).toBe("b");
    gate.begin("room");
    expect(gate.pass("other room", "c")).toBe("c");
  });

  it("releases a wake at the end of the turn its groupSend answered in when no other follows", async () => {
    const gate = new WakeGate();
    gate.begin("room");
    const woken = gate.pass("room", "message");
    expect(woken).toBeInstanceOf(Promise);
    gate.ended("room");
    expect(await settledAfter(0, woken as Promise<string>)).toBe(1);
    await expect(woken).resolves.toBe("message");
  });

  /** A wake taken from one groupSend, held at the end of its turn because the next one is in flight. */
  async function heldBehindNextSend(gate: WakeGate): Promise<{ first: Promise<number> }> {
    gate.begin("room");
    const first = gate.pass("room", 1) as Promise<number>;
    gate.ended("room");
    gate.begin("room");
    expect(await settledAfter(0, first)).toBe(0);
    return { first };
  }

  it("holds wakes while the group's next groupSend is in flight, for MAX_HOLD_MS at most", async () => {
    const { first } = await heldBehindNextSend(new WakeGate());
    expect(await settledAfter(MAX_HOLD_MS, first)).toBe(1);
  });

  it("releases held wakes once the group's last groupSend answers", async () => {
    const gate = new WakeGate();
    const { first } = await heldBehindNextSend(gate);
    const second = gate.pass("room", 2) as Promise<number>;
    gate.ended("room");
    expect(await settledAfter(0, first, second)).toBe(2);
  });

  it("wakes every held receive, in order, however many are held", async () => {
    const gate = new WakeGate();
    gate.begin("room");
    const order: number[] = [];
    const count = 2 * RELEASE_CHUNK + 5;
    const wakes = Array.from({ length: count }, (_, n) =>
      (gate.pass("room", n) as Promise<number>).then((value) => order.push(value)),
    );
    gate.ended("room");
    await vi.runAllTimersAsync();
    await Promise.all(wakes);
    expect(order).toEqual(Array.from({ length: count }, (_, n) => n));
  });

  it("releases everything held when the layer closes", async () => {
    const gate = new WakeGate();
    gate.begin("room");
    const held = gate.pass("room", "last") as Promise<string>;
    gate.releaseAll();
    await expect(held).resolves.toBe("last");
  });
});
