import { globToRegExp } from "./capacity.js";
import { InvalidArgument, InvalidOptions } from "./errors.js";
import type { GroupHistoryPattern, GroupHistoryRule, HistoryOffset } from "./history.js";
import type { Message } from "./message.js";

/** Longest string offset a caller may pass back: stream ids and sequences are far shorter. */
const MAX_OFFSET_LENGTH = 200;
/** Caching more group names than this would let group churn grow memory. */
const CACHE_LIMIT = 10_000;

function historyRule(pattern: string, value: unknown): GroupHistoryRule {
  const rule = value as Partial<GroupHistoryRule> | null;
  if (typeof rule !== "object" || rule === null) {
    throw new InvalidOptions(`groupHistory[${pattern}] must be { maxLength, maxAgeMs? }; got ${String(value)}`);
  }
  const { maxLength, maxAgeMs } = rule;
  if (typeof maxLength !== "number" || !Number.isSafeInteger(maxLength) || maxLength < 1) {
    throw new InvalidOptions(`groupHistory[${pattern}].maxLength must be a positive integer; got ${String(maxLength)}`);
  }
  if (maxAgeMs === undefined) return { maxLength };
  if (typeof maxAgeMs !== "number" || !Number.isFinite(maxAgeMs) || maxAgeMs <= 0) {
    throw new InvalidOptions(
      `groupHistory[${pattern}].maxAgeMs must be a positive number of milliseconds; got ${String(maxAgeMs)}`,
    );
  }
  return { maxLength, maxAgeMs };
}

/** Checks the `groupHistory` option; `{ glob: rule }` or `[[RegExp | glob, rule], ...]`. */
export function resolveGroupHistory(
  spec: Record<string, GroupHistoryRule> | readonly GroupHistoryPattern[] | undefined,
): readonly GroupHistoryPattern[] {
  if (spec === undefined) return [];
  const entries: (readonly [unknown, unknown])[] = Array.isArray(spec)
    ? spec
    : Object.entries(spec as Record<string, GroupHistoryRule>);
  return entries.map(([pattern, rule]) => {
    if (!(pattern instanceof RegExp) && typeof pattern !== "string") {
      throw new InvalidOptions(`groupHistory patterns must be globs or RegExps; got ${String(pattern)}`);
    }
    return [pattern, historyRule(String(pattern), rule)] as const;
  });
}

/** Finds a group's history rule: the first matching pattern, as channelCapacity finds capacities. */
export class GroupHistoryRules {
  private readonly rules: readonly (readonly [RegExp, GroupHistoryRule])[];
  private readonly cache = new Map<string, GroupHistoryRule | null>();

  constructor(patterns: readonly GroupHistoryPattern[]) {
    this.rules = patterns.map(([pattern, rule]) => [
      typeof pattern === "string" ? globToRegExp(pattern) : pattern,
      Object.freeze({ ...rule }),
    ]);
  }

  /** Whether any group keeps history. */
  get isEmpty(): boolean {
    return this.rules.length === 0;
  }

  ruleFor(group: string): GroupHistoryRule | undefined {
    if (this.rules.length === 0) return undefined;
    const cached = this.cache.get(group);
    if (cached !== undefined) return cached ?? undefined;
    let found: GroupHistoryRule | null = null;
    for (const [pattern, rule] of this.rules) {
      pattern.lastIndex = 0;
      if (pattern.test(group)) {
        found = rule;
        break;
      }
    }
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(group, found);
    return found ?? undefined;
  }
}

/** Throws INVALID_ARGUMENT unless `offset` could be an offset: a non-empty string or a non-negative safe integer. */
export function assertHistoryOffset(offset: unknown): asserts offset is HistoryOffset {
  if (typeof offset === "number" && Number.isSafeInteger(offset) && offset >= 0) return;
  if (typeof offset === "string" && offset.length > 0 && offset.length <= MAX_OFFSET_LENGTH) return;
  throw new InvalidArgument(
    `A history offset is a non-empty string of at most ${MAX_OFFSET_LENGTH} characters or a non-negative integer, as the layer gave it; got ${typeof offset === "string" ? JSON.stringify(offset.slice(0, 40)) : String(offset)}`,
  );
}

/**
 * The message as a history group's members get it: `message` with `__group__` and `__offset__`
 * set (replacing any the sender put there). A new object; nested values are shared.
 */
export function stampHistory(message: Message, group: string, offset: HistoryOffset): Message {
  // Literal keys (HISTORY_GROUP_KEY, HISTORY_OFFSET_KEY): computed ones after a spread take V8's slow path.
  return { ...message, __group__: group, __offset__: offset };
}
