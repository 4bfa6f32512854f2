import { describe, expect, it } from "vitest";
import { Backoff } from "../src/backoff.js";

describe("Backoff", () => {
  it("doubles from initialMs up to maxMs, with jitter either way, and starts over after reset", () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0.25 });
    const delays = Array.from({ length: 8 }, () => backoff.next());
    const bases = [100, 200, 400, 800, 1000, 1000, 1000, 1000];
    delays.forEach((delay, i) => {
      expect(delay).toBeGreaterThanOrEqual((bases[i] as number) * 0.75);
      expect(delay).toBeLessThanOrEqual((bases[i] as number) * 1.25);
    });
    expect(backoff.failures).toBe(8);
    backoff.reset();
    expect(backoff.next()).toBeLessThanOrEqual(125);
  });

  it("is a fixed delay with factor 1 and no jitter", () => {
    const backoff = new Backoff({ initialMs: 500, maxMs: 500, factor: 1, jitter: 0 });
    expect([backoff.next(), backoff.next(), backoff.next()]).toEqual([500, 500, 500]);
  });

  it("wait() ends early when its signal aborts", async () => {
    const backoff = new Backoff({ initialMs: 60_000, maxMs: 60_000 });
    const controller = new AbortController();
    const waiting = backoff.wait({ signal: controller.signal, unref: true });
    controller.abort();
    await expect(waiting).resolves.toBeUndefined();
  });

  it("refuses options that make no sense with INVALID_OPTIONS", () => {
    expect(() => new Backoff({ initialMs: 10, maxMs: 5 })).toThrow(
      expect.objectContaining({ code: "INVALID_OPTIONS" }),
    );
    expect(() => new Backoff({ factor: 0.5 })).toThrow(expect.objectContaining({ code: "INVALID_OPTIONS" }));
  });
});
