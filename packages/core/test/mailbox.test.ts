import { describe, expect, it } from "vitest";
import { LocalMailboxes } from "../src/local-mailboxes.js";
import { Mailbox } from "../src/mailbox.js";
import { RingQueue } from "../src/ring-queue.js";
import { TimedQueue } from "../src/timed-queue.js";

describe("RingQueue and TimedQueue", () => {
  it("keep FIFO order across growth and wrap-around", () => {
    const ring = new RingQueue<number>(2);
    const timed = new TimedQueue<number>(2);
    const out: number[] = [];
    const timedOut: number[] = [];
    for (let n = 0; n < 100; n++) {
      ring.push(n);
      timed.push(n, n);
      if (n % 3 === 0) {
        out.push(ring.shift() as number);
        timedOut.push(timed.shift() as number);
      }
    }
    while (ring.length) out.push(ring.shift() as number);
    while (timed.length) timedOut.push(timed.shift() as number);
    expect(out).toEqual(Array.from({ length: 100 }, (_, n) => n));
    expect(timedOut).toEqual(out);
  });

  it("drops expired items from the head only", () => {
    const timed = new TimedQueue<string>();
    timed.push("old", 10);
    timed.push("new", 30);
    timed.dropExpired(20);
    expect(timed.length).toBe(1);
    expect(timed.shift()).toBe("new");
  });
});

describe("Mailbox", () => {
  it("hands an item to the longest waiting receiver", async () => {
    const box = new Mailbox<string>();
    const first = box.take();
    const second = box.take();
    box.deliver("a", Number.POSITIVE_INFINITY);
    box.deliver("b", Number.POSITIVE_INFINITY);
    expect(await first).toBe("a");
    expect(await second).toBe("b");
    expect(box.waiting).toBe(0);
  });

  it("refuses an offer at capacity unless a receiver waits", async () => {
    const box = new Mailbox<number>();
    expect(box.offer(1, Number.POSITIVE_INFINITY, 1)).toBe(true);
    expect(box.offer(2, Number.POSITIVE_INFINITY, 1)).toBe(false);
    expect(await box.take()).toBe(1);
    const waiting = box.take();
    expect(box.offer(3, Number.POSITIVE_INFINITY, 1)).toBe(true);
    expect(await waiting).toBe(3);
  });

  it("takes nothing for an aborted receive and forgets aborted waiters", async () => {
    const box = new Mailbox<number>();
    for (let i = 0; i < 100; i++) {
      const controller = new AbortController();
      const waiting = box.take(controller.signal);
      controller.abort();
      await expect(waiting).rejects.toMatchObject({ name: "AbortError" });
    }
    expect(box.waiting).toBe(0);
    box.deliver(7, Number.POSITIVE_INFINITY);
    expect(box.size()).toBe(1);
    expect(await box.take()).toBe(7);
  });

  it("rejects waiters and drops items on clear", async () => {
    const box = new Mailbox<number>();
    const waiting = box.take();
    box.clear(new Error("gone"));
    await expect(waiting).rejects.toThrow("gone");
    expect(box.isIdle()).toBe(true);
  });
});

describe("LocalMailboxes", () => {
  it("forgets idle mailboxes on the next sweep", async () => {
    const boxes = new LocalMailboxes();
    for (let i = 0; i < 1000; i++) {
      boxes.open(`c${i}`).deliver({ type: "x" }, Number.POSITIVE_INFINITY);
      await boxes.take(`c${i}`);
    }
    boxes.open("kept").deliver({ type: "x" }, Number.POSITIVE_INFINITY);
    boxes.sweep();
    expect(boxes.size).toBe(1);
  });
});
