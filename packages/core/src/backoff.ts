import { InvalidOptions } from "./errors.js";

/** Options of Backoff. */
export interface BackoffOptions {
  /** Delay before the first retry, in ms. Default 100. */
  initialMs?: number;
  /** Largest delay, in ms. Default 5000. */
  maxMs?: number;
  /** What each failure multiplies the delay by. Default 2 (1 keeps it fixed). */
  factor?: number;
  /** Random spread of each delay, as a fraction either way: 0.25 gives 75% to 125%. Default 0.25. */
  jitter?: number;
}

/**
 * Delays between retries of something that failed: exponential up to a maximum, with jitter so
 * the processes that lost one server do not all come back at the same moment.
 */
export class Backoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly jitter: number;
  private failuresSinceReset = 0;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 100;
    this.maxMs = options.maxMs ?? 5000;
    this.factor = options.factor ?? 2;
    this.jitter = options.jitter ?? 0.25;
    if (!(this.initialMs >= 0 && this.maxMs >= this.initialMs && this.factor >= 1 && this.jitter >= 0)) {
      throw new InvalidOptions(
        `Backoff needs 0 <= initialMs <= maxMs, factor >= 1 and jitter >= 0; got ${JSON.stringify(options)}`,
      );
    }
  }

  /** Failures since the last reset(). */
  get failures(): number {
    return this.failuresSinceReset;
  }

  /** Counts a failure and returns how long to wait before the next try, in ms. */
  next(): number {
    const base = Math.min(this.initialMs * this.factor ** this.failuresSinceReset, this.maxMs);
    this.failuresSinceReset++;
    const spread = base * this.jitter * (2 * Math.random() - 1);
    return Math.max(0, Math.min(base + spread, this.maxMs * (1 + this.jitter)));
  }

  /** After a success: the next failure waits initialMs again. */
  reset(): void {
    this.failuresSinceReset = 0;
  }

  /**
   * Counts a failure and resolves after next() ms, or as soon as `signal` aborts (a loop that is
   * being stopped). `unref`: the wait alone does not keep the process alive.
   */
  wait(options: { signal?: AbortSignal; unref?: boolean } = {}): Promise<void> {
    const delay = this.next();
    const { signal, unref = false } = options;
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, delay);
      if (unref) timer.unref();
      signal?.addEventListener("abort", done, { once: true });
    });
  }
}
