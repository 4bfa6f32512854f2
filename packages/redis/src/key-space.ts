import { nonLocalName, parseChannelName } from "@channel-layers/core/backend";

/**
 * Redis key names. Without Cluster they are exactly channels_redis': a channel's sorted set at
 * prefix + name, a process's local channels at prefix + the part up to `!`, groups at
 * `prefix:group:name`. Beside them sit the keys only this package uses: `<process key>$receiver`
 * and `<process key>$held` (see docs/redis.md). With Cluster every key gets a hash tag, so each
 * script touches one slot.
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

  /** A glob matching every key that starts with the prefix (flush filters them by shape). */
  get pattern(): string {
    return `${this.prefix.replace(/[*?[\]\\]/g, "\\$&")}*`;
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
