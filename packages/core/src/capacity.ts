import type { ChannelCapacityRule } from "./options.js";

/** Python's fnmatch.translate: `*`, `?`, `[seq]` and `[!seq]`, matched against the whole name. */
export function globToRegExp(glob: string): RegExp {
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i] as string;
    if (char === "*") source += ".*";
    else if (char === "?") source += ".";
    else if (char === "[") {
      const close = glob.indexOf("]", i + 2);
      if (close === -1) {
        source += "\\[";
        continue;
      }
      let set = glob.slice(i + 1, close).replace(/\\/g, "\\\\");
      if (set.startsWith("!")) set = `^${set.slice(1)}`;
      else if (set.startsWith("^")) set = `\\${set}`;
      source += `[${set}]`;
      i = close;
    } else source += char.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
  }
  return new RegExp(`^(?:${source})$`, "s");
}

/** Caching more names than this would let process-local channel churn grow memory. */
const CACHE_LIMIT = 10_000;

/**
 * Looks up a channel's capacity: the first matching channelCapacity rule, else the default.
 * A RegExp rule is used as given (`test`), so anchor it if it must match the whole name.
 */
export class CapacityLookup {
  private readonly rules: readonly (readonly [RegExp, number])[];
  private readonly cache = new Map<string, number>();

  constructor(
    private readonly defaultCapacity: number,
    rules: readonly ChannelCapacityRule[],
  ) {
    this.rules = rules.map(([pattern, capacity]) => [
      typeof pattern === "string" ? globToRegExp(pattern) : pattern,
      capacity,
    ]);
  }

  capacityFor(channel: string): number {
    if (this.rules.length === 0) return this.defaultCapacity;
    const cached = this.cache.get(channel);
    if (cached !== undefined) return cached;
    let capacity = this.defaultCapacity;
    for (const [pattern, value] of this.rules) {
      pattern.lastIndex = 0;
      if (pattern.test(channel)) {
        capacity = value;
        break;
      }
    }
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(channel, capacity);
    return capacity;
  }
}
