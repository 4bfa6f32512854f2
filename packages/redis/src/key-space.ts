import { nonLocalName } from "@channel-layers/core/backend";

/** The part of a process-local channel's name after its `!`: its name within its process key. */
export function localPart(channel: string): string {
  return channel.slice(channel.indexOf("!") + 1);
}

/**
 * Redis key names. Without Cluster they are exactly channels_redis': a channel's sorted set at
 * prefix + name, a process's local channels at prefix + the part up to `!`, groups at
 * `prefix:group:name`. The keys only this package uses sit beside them: `<process key>$receiver`
 * (a live RedisChannelLayer counts per channel) and `<process key>$held` (what each of its
 * channels holds). With Cluster every key gets a hash tag, so each script touches one slot: the
 * channel or group name, or for process-local channels the instance id before the `!`, which puts
 * all of one instance's keys in one slot (channels_redis has no Cluster support to agree with).
 */
export class KeySpace {
  constructor(
    readonly prefix: string,
    readonly cluster: boolean,
  ) {}

  /** The key a message for `channel` is written to: its own, or its process key. */
  channelKey(channel: string): string {
    const bang = channel.indexOf("!");
    if (bang !== -1) return this.processKey(channel.slice(0, bang + 1));
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

  /**
   * The held set of process-local `channel`'s process key: an entry `<local part>|<id>` for each
   * message sent to one of its channels and not yet received (see scripts.ts).
   */
  heldKey(channel: string): string {
    return `${this.processKey(nonLocalName(channel))}$held`;
  }

  /** A private key an instance's receive loop also blocks on, so it can be woken to watch new keys. */
  wakeKey(instanceId: string): string {
    return this.cluster ? `${this.prefix}{${instanceId}}$wake` : `${this.prefix}$wake.${instanceId}`;
  }

  groupKey(group: string): string {
    return this.cluster ? `${this.prefix}:group:{${group}}` : `${this.prefix}:group:${group}`;
  }

  /** A glob matching every key of this prefix, with glob characters in the prefix escaped. */
  get pattern(): string {
    return `${this.prefix.replace(/[*?[\]\\]/g, "\\$&")}*`;
  }
}

/** The instance id in `<prefix>.<instanceId>!`: what all of one instance's local channels share. */
export function processTag(nonLocal: string): string {
  const body = nonLocal.endsWith("!") ? nonLocal.slice(0, -1) : nonLocal;
  const dot = body.lastIndexOf(".");
  const tag = dot === -1 ? body : body.slice(dot + 1);
  return tag.length > 0 ? tag : body;
}
