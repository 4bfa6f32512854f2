import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { KEEPALIVE_SLICES, KeepaliveSchedule, type Pingable } from "../src/server/keepalive.js";

class Counted {
  pings = 0;
  ping(): void {
    this.pings++;
  }
}

describe("KeepaliveSchedule", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("pings a slice at a time, and every connection exactly once per interval", () => {
    const schedule = new KeepaliveSchedule<Counted>(1000);
    const connections = Array.from({ length: 4 * KEEPALIVE_SLICES }, () => new Counted());
    for (const connection of connections) schedule.add(connection);

    vi.advanceTimersByTime(1000 / KEEPALIVE_SLICES);
    expect(connections.filter((connection) => connection.pings === 1)).toHaveLength(4);
    vi.advanceTimersByTime(1000 - 1000 / KEEPALIVE_SLICES);
    expect(connections.every((connection) => connection.pings === 1)).toBe(true);
    vi.advanceTimersByTime(1000);
    expect(connections.every((connection) => connection.pings === 2)).toBe(true);
    schedule.stop();
  });

  it("stops pinging a removed connection, and everything once stopped", () => {
    const schedule = new KeepaliveSchedule<Counted>(1000);
    const [kept, removed] = [new Counted(), new Counted()];
    schedule.add(kept);
    schedule.add(removed);
    schedule.remove(removed);
    vi.advanceTimersByTime(1000);
    expect([kept.pings, removed.pings]).toEqual([1, 0]);
    schedule.stop();
    vi.advanceTimersByTime(5000);
    expect(kept.pings).toBe(1);
  });

  it("lets a ping remove its own connection while its slice is being pinged", () => {
    const schedule = new KeepaliveSchedule<Pingable>(1000);
    const dropping: Pingable = { ping: () => schedule.remove(dropping) };
    const fillers = Array.from({ length: KEEPALIVE_SLICES - 1 }, () => new Counted());
    const sameSlice = new Counted();
    // Dealt in turn: the first and the (slices + 1)th share the first slice.
    for (const each of [dropping, ...fillers, sameSlice]) schedule.add(each);
    vi.advanceTimersByTime(1000 / KEEPALIVE_SLICES);
    expect(sameSlice.pings).toBe(1);
    vi.advanceTimersByTime(1000);
    expect(sameSlice.pings).toBe(2);
    schedule.stop();
  });

  it("does nothing with keepalive off (interval 0)", () => {
    const schedule = new KeepaliveSchedule<Counted>(0);
    const connection = new Counted();
    schedule.add(connection);
    vi.advanceTimersByTime(60_000);
    expect(connection.pings).toBe(0);
  });
});
