import {
  type ChannelLayer,
  hasPresence,
  type PresenceChannelLayer,
  type PresenceList,
  type PresenceMeta,
  Unsupported,
} from "@channel-layers/core";

/**
 * A consumer's presence (`this.presence`): tracks through the consumer's own channel, so every
 * track ends when the consumer does (the runtime discards its channel). The group's members get
 * `presence.diff` messages, which run their `presence_diff` handler.
 */
export class ConsumerPresence {
  constructor(
    private readonly layer: () => ChannelLayer,
    private readonly channel: () => string,
  ) {}

  /** Tracks `key` (a user id) as present in `group` with `meta`; resolves with the track's ref. */
  track(group: string, key: string, meta?: PresenceMeta): Promise<string> {
    return this.presenceLayer("track").presenceTrack(group, this.channel(), key, meta);
  }

  /** Ends this consumer's track of `key` in `group`. */
  untrack(group: string, key: string): Promise<void> {
    return this.presenceLayer("untrack").presenceUntrack(group, this.channel(), key);
  }

  /** Who is in `group`, across every process: `{ [key]: { metas: [{ ...meta, ref }] } }`. */
  list(group: string): Promise<PresenceList> {
    return this.presenceLayer("list").presenceList(group);
  }

  private presenceLayer(call: string): PresenceChannelLayer {
    const layer = this.layer();
    if (!hasPresence(layer)) {
      throw new Unsupported(
        `presence.${call}() needs a layer that lists the presence extension; ${layer.constructor.name} does not`,
      );
    }
    return layer;
  }
}
