import { InvalidOptions } from "@channel-layers/core";
import { nonLocalName, parseChannelName } from "@channel-layers/core/backend";

/** Longest prefix: keys stay readable, and a prefix is a name, not data. */
const MAX_PREFIX_LENGTH = 64;
/** Channel-name characters, and `:` which Redis users put in prefixes (`myapp:`). */
const PREFIX = /^[a-zA-Z\d\-_.:]+$/;
/** A channel or group name as it appears in a key. */
const NAME = "[a-zA-Z\\d\\-_.]+";
/** What follows the prefix in a key of this layer on Cluster (see KeySpace): what flush deletes. */
const CLUSTER_KEY = new RegExp(
  `^(\\{${NAME}\\}(${NAME}!(\\$held|\\$receiver)?|\\$wake)?|:(group|history):\\{${NAME}\\}|:presence:\\{[^}]+\\}(${NAME}|\\$deadlines))$`,
);

/** Throws InvalidOptions unless `prefix` can start this layer's keys without meeting others'. */
export function assertPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix === "string" && prefix.length <= MAX_PREFIX_LENGTH && PREFIX.test(prefix)) return;
  throw new InvalidOptions(
    `prefix must be 1 to ${MAX_PREFIX_LENGTH} ASCII letters, digits, hyphens, underscores, periods or colons; got ${JSON.stringify(prefix)}`,
  );
}

/**
 * Redis key names. Without Cluster they are exactly channels_redis': a channel's sorted set at
 * prefix + name, a process's local channels at prefix + the part up to `!`, groups at
 * `prefix:group:name`. Beside them sit the keys only this package uses: `<process key>$receiver`
 * and `<process key>$held` (see docs/redis.md), a group's history stream `prefix:history:name`,
 * and presence: `prefix:presence:name` (a hash of the group's entries) and one sorted set of
 * every entry's deadline, `prefix:presence:$deadlines`. With Cluster every key gets a hash tag, so
 * each script touches one slot: a group's history shares its group's slot, and all presence keys
 * share one slot (the sweep reads every group's entries in one script).
 */
export class KeySpace {
  constructor(
    readonly prefix: string,
    readonly cluster: boolean,
  ) {}

  /** The key a message for `channel` is written to: its own, or its process key. */
  channelKey(channel: string): string {
    const parts = parseChannelName(channel);
    if (parts.processLocal) return this.processKey(parts.nonLocalPart);
    return this.cluster ? `${this.prefix}{${channel}}` : this.prefix + channel;
  }

  /** The sorted set every process-local channel sharing `nonLocal` (ending in `!`) is written to. */
  processKey(nonLocal: string): string {
    return this.cluster ? `${this.prefix}{${processTag(nonLocal)}}${nonLocal}` : this.prefix + nonLocal;
  }

  /** Exists while a RedisChannelLayer receives from `processKey` and counts capacity per channel. */
  receiverKey(processKey: string): string {
    return `${processKey}$receiver`;
  }

  /** The held set of process-local `channel`'s process key: one entry per message not yet received. */
  heldKey(channel: string): string {
    return this.heldKeyOf(this.processKey(nonLocalName(channel)));
  }

  heldKeyOf(processKey: string): string {
    return `${processKey}$held`;
  }

  /** A private key an instance's receive loop also blocks on, so it can be woken to watch new keys. */
  wakeKey(instanceId: string): string {
    return this.cluster ? `${this.prefix}{${instanceId}}$wake` : `${this.prefix}$wake.${instanceId}`;
  }

  groupKey(group: string): string {
    return this.cluster ? `${this.prefix}:group:{${group}}` : `${this.prefix}:group:${group}`;
  }

  /** The group's history: a stream on the group's shard (and slot). */
  historyKey(group: string): string {
    return this.cluster ? `${this.prefix}:history:{${group}}` : `${this.prefix}:history:${group}`;
  }

  /** What a group's presence hash key starts with; the name follows (scripts derive keys from it). */
  get presencePrefix(): string {
    return this.cluster ? `${this.prefix}:presence:{${this.prefix}}` : `${this.prefix}:presence:`;
  }

  /** The group's presence entries: a hash of ref -> entry. */
  presenceKey(group: string): string {
    return this.presencePrefix + group;
  }

  /** Every presence entry's deadline on a shard: a sorted set of `<group> <ref>` scored in ms. */
  get presenceDeadlinesKey(): string {
    return `${this.presencePrefix}$deadlines`;
  }

  /** A glob matching every key that starts with the prefix (a valid prefix has no glob characters). */
  get pattern(): string {
    return `${this.prefix}*`;
  }

  /** Whether `key` (one `pattern` matched) has the shape of a Cluster key of this layer. */
  isClusterKey(key: string): boolean {
    return key.startsWith(this.prefix) && CLUSTER_KEY.test(key.slice(this.prefix.length));
  }
}

/**
 * The hash tag of a process key with Cluster: the instance id newChannel() put before the `!`, so
 * all of one instance's keys share a slot; the whole non-local part for a name it did not make.
 */
function processTag(nonLocal: string): string {
  const parts = parseChannelName(nonLocal);
  return parts.instanceId ?? nonLocal.slice(0, -1);
}

/** What follows the `!` of a process-local channel: its name within its process key. */
export function localPartOf(channel: string): string {
  return parseChannelName(channel).localPart;
}
