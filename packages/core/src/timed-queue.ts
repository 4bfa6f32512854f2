/**
 * A FIFO of items with expiry times, on two parallel circular arrays: push and shift are O(1) and
 * allocate nothing per item (no `{ item, expiresAt }` wrapper for the garbage collector to chase).
 */
export class TimedQueue<T> {
  private items: (T | undefined)[];
  private expiries: Float64Array;
  private head = 0;
  private count = 0;

  constructor(initialCapacity = 4) {
    this.items = new Array(initialCapacity);
    this.expiries = new Float64Array(initialCapacity);
  }

  get length(): number {
    return this.count;
  }

  push(item: T, expiresAt: number): void {
    if (this.count === this.items.length) this.grow();
    const index = (this.head + this.count) % this.items.length;
    this.items[index] = item;
    this.expiries[index] = expiresAt;
    this.count++;
  }

  /** Drops items at the head whose expiry is at or before `now`. */
  dropExpired(now: number): void {
    while (this.count > 0 && (this.expiries[this.head] as number) <= now) this.shift();
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.items.length;
    this.count--;
    return item;
  }

  clear(): void {
    this.items = new Array(4);
    this.expiries = new Float64Array(4);
    this.head = 0;
    this.count = 0;
  }

  private grow(): void {
    const size = this.items.length;
    const items: (T | undefined)[] = new Array(size * 2);
    const expiries = new Float64Array(size * 2);
    for (let i = 0; i < this.count; i++) {
      const from = (this.head + i) % size;
      items[i] = this.items[from];
      expiries[i] = this.expiries[from] as number;
    }
    this.items = items;
    this.expiries = expiries;
    this.head = 0;
  }
}
