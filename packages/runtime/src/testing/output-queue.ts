import { ConsumerError } from "../errors.js";

/**
 * Items arriving one by one, taken with a timeout: what both communicators receive from. `fail`
 * makes every later take (and the one waiting) reject, once the queue is empty.
 */
export class OutputQueue<T> {
  private readonly items: T[] = [];
  private waiter: { resolve: (item: T) => void; reject: (error: unknown) => void } | undefined;
  private failure: (() => unknown) | undefined;

  get size(): number {
    return this.items.length;
  }

  push(item: T): void {
    const waiter = this.waiter;
    if (waiter === undefined) {
      this.items.push(item);
      return;
    }
    this.waiter = undefined;
    waiter.resolve(item);
  }

  /** From now on an empty queue rejects with what `error()` makes. */
  fail(error: () => unknown): void {
    this.failure ??= error;
    const waiter = this.waiter;
    if (waiter === undefined) return;
    this.waiter = undefined;
    waiter.reject(error());
  }

  /** The next item, waiting up to `timeoutMs` (then a ConsumerError with code TIMEOUT naming `what`). */
  take(timeoutMs: number, what: string): Promise<T> {
    if (this.items.length > 0) return Promise.resolve(this.items.shift() as T);
    if (this.failure !== undefined) return Promise.reject(this.failure());
    if (this.waiter !== undefined) {
      return Promise.reject(
        new ConsumerError("INVALID_EVENT", `Already waiting for ${what}: await the last call first`),
      );
    }
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new ConsumerError("TIMEOUT", `Nothing arrived within ${timeoutMs} ms while waiting for ${what}`));
      }, timeoutMs);
      this.waiter = {
        resolve: (item) => {
          clearTimeout(timer);
          resolve(item);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
    });
  }
}
