import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { REORDER_WAIT_MS, RepublishOrder } from "../src/republish-order.js";

// Stream sequences of one group's subject: each message names the one before it, as the
// server's Nats-Last-Sequence header does (other groups' messages fill the gaps in between).
const SUBJECT = "p.h.tag.room";

describe("RepublishOrder", () => {
  let order: RepublishOrder;
  let handed: number[];
  const arrive = (seq: number, previous: number, subject = SUBJECT) =>
    order.arrived("room", subject, seq, previous, () => handed.push(seq));

  beforeEach(() => {
    vi.useFakeTimers();
    order = new RepublishOrder();
    handed = [];
  });
  afterEach(() => {
    order.clear();
    vi.useRealTimers();
  });

  it("hands on messages that arrive in their turn at once", () => {
    arrive(10, 7);
    arrive(12, 10);
    arrive(15, 12);
    expect(handed).toEqual([10, 12, 15]);
  });

  it("holds a message that came before the one it follows, then hands both on in order", () => {
    arrive(10, 7);
    arrive(13, 12);
    expect(handed).toEqual([10]);
    arrive(12, 10);
    expect(handed).toEqual([10, 12, 13]);
  });

  it("puts several early messages back in order", () => {
    arrive(1, 0);
    arrive(4, 3);
    arrive(3, 2);
    expect(handed).toEqual([1]);
    arrive(2, 1);
    expect(handed).toEqual([1, 2, 3, 4]);
  });

  it("hands on what waited, in order, when the one before it never comes", () => {
    arrive(10, 7);
    arrive(14, 13);
    arrive(13, 12);
    vi.advanceTimersByTime(REORDER_WAIT_MS - 1);
    expect(handed).toEqual([10]);
    vi.advanceTimersByTime(1);
    expect(handed).toEqual([10, 13, 14]);
    // The lost one turning up late is still handed on (no message is dropped), and what follows
    // it in turn goes on at once.
    arrive(12, 10);
    arrive(15, 14);
    expect(handed).toEqual([10, 13, 14, 12, 15]);
  });

  it("starts a new chain when the group's messages come from another stream", () => {
    arrive(10, 7);
    arrive(3, 0, "p.h.other.room");
    expect(handed).toEqual([10, 3]);
  });

  it("lets a sender wait until its own message was handed on", async () => {
    arrive(10, 7);
    arrive(12, 11);
    let resolved = false;
    const wait = order.handedOn("room", 12).then(() => {
      resolved = true;
    });
    await Promise.resolve();
    expect(resolved).toBe(false);
    arrive(11, 10);
    await wait;
    expect(handed).toEqual([10, 11, 12]);
    await expect(order.handedOn("room", 11)).resolves.toBeUndefined();
  });

  it("drops what waits when the group has no members here any more", async () => {
    arrive(10, 7);
    arrive(12, 11);
    const wait = order.handedOn("room", 12);
    order.forget("room");
    await wait;
    vi.advanceTimersByTime(REORDER_WAIT_MS);
    expect(handed).toEqual([10]);
  });
});
