import { CapacityLookup } from "./capacity.js";
import type { ChannelLayer, ReceiveOptions } from "./channel-layer.js";
import { AbortError, ChannelLayerError, InvalidName, LayerClosed } from "./errors.js";
import { copyValidMessage, lastSizeLowerBound, type Message, validateMessage } from "./message.js";
import {
  assertChannelName,
  assertGroupName,
  INSTANCE_ID_BYTES,
  isProcessLocal,
  LOCAL_PART_BYTES,
  MAX_NAME_LENGTH,
  makeChannelName,
  randomHex,
} from "./names.js";
import { type ChannelLayerOptions, type ResolvedChannelLayerOptions, resolveOptions } from "./options.js";
import { MessageSerializer } from "./serializer.js";

const RECEIVABLE_CACHE_LIMIT = 10_000;

/** Longest newChannel() prefix: the name adds `.`, the instance id, `!` and the local part. */
const MAX_CHANNEL_PREFIX_LENGTH = MAX_NAME_LENGTH - 1 - (INSTANCE_ID_BYTES * 2 + 2 + LOCAL_PART_BYTES * 2);

/**
 * The public half of every channel layer, done once: names and messages are validated before
 * any I/O, closed state and aborts are checked, and the groups this instance added each channel
 * to are remembered for discardChannel. A backend extends it and writes the protected `_` half,
 * which only ever sees valid input on an open layer.
 */
export abstract class BaseChannelLayer implements ChannelLayer {
  abstract readonly extensions: readonly string[];
  readonly options: ResolvedChannelLayerOptions;
  /** Random id in every channel name this instance makes: `<prefix>.<instanceId>!<random>`. */
  protected readonly instanceId = randomHex(INSTANCE_ID_BYTES);
  /** What the non-local part of this instance's channel names ends with. */
  private readonly ownChannelMarker = `.${this.instanceId}!`;
  /** Set by a layer that keeps message objects itself, so senders and receivers share nothing. */
  protected readonly copiesMessages: boolean = false;
  private readonly capacities: CapacityLookup;
  private readonly memberships = new Map<string, Set<string>>();
  /** Channels receive() has checked lately: a consumer receives on one name over and over. */
  private readonly receivable = new Set<string>();
  private closing: Promise<void> | undefined;
  private sizeProbe: MessageSerializer | undefined;

  constructor(options: ChannelLayerOptions = {}) {
    this.options = resolveOptions(options);
    this.capacities = new CapacityLookup(this.options.capacity, this.options.channelCapacity);
  }

  /** Whether close() has been called. */
  get closed(): boolean {
    return this.closing !== undefined;
  }

  async newChannel(prefix = "specific"): Promise<string> {
    this.assertOpen();
    if (typeof prefix !== "string" || prefix.length > MAX_CHANNEL_PREFIX_LENGTH || !/^[a-zA-Z\d\-_.]+$/.test(prefix)) {
      throw new InvalidName(
        `newChannel prefix must be at most ${MAX_CHANNEL_PREFIX_LENGTH} ASCII letters, digits, hyphens, underscores or periods; got ${JSON.stringify(prefix)}`,
      );
    }
    const channel = makeChannelName(prefix, this.instanceId);
    await this._newChannel(channel);
    return channel;
  }

  // send, receive and groupSend are the hot path: plain functions that return the transport's
  // promise, rather than async ones that would wrap it in another.
  send(channel: string, message: Message): Promise<void> {
    try {
      this.assertOpen();
      assertChannelName(channel);
      return this._send(channel, this.admit(message));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  receive(channel: string, options?: ReceiveOptions): Promise<Message> {
    try {
      this.assertOpen();
      if (!this.receivable.has(channel)) this.checkReceivable(channel);
      const signal = options?.signal;
      if (signal?.aborted) throw new AbortError(signal.reason);
      return this._receive(channel, signal);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async groupAdd(group: string, channel: string): Promise<void> {
    this.assertOpen();
    assertGroupName(group);
    assertChannelName(channel);
    let groups = this.memberships.get(channel);
    if (groups === undefined) {
      groups = new Set();
      this.memberships.set(channel, groups);
    }
    groups.add(group);
    return this._groupAdd(group, channel);
  }

  async groupDiscard(group: string, channel: string): Promise<void> {
    this.assertOpen();
    assertGroupName(group);
    assertChannelName(channel);
    const groups = this.memberships.get(channel);
    if (groups?.delete(group) && groups.size === 0) this.memberships.delete(channel);
    return this._groupDiscard(group, channel);
  }

  groupSend(group: string, message: Message): Promise<void> {
    try {
      this.assertOpen();
      assertGroupName(group);
      return this._groupSend(group, this.admit(message));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async discardChannel(channel: string): Promise<void> {
    this.assertOpen();
    assertChannelName(channel);
    const groups = [...(this.memberships.get(channel) ?? [])];
    this.memberships.delete(channel);
    return this._discardChannel(channel, groups);
  }

  async flush(): Promise<void> {
    this.assertOpen();
    this.memberships.clear();
    return this._flush();
  }

  close(): Promise<void> {
    this.closing ??= this._close();
    return this.closing;
  }

  /** Message expiry in milliseconds. */
  protected get expiryMs(): number {
    return this.options.expiry * 1000;
  }

  /** Group membership expiry in milliseconds. */
  protected get groupExpiryMs(): number {
    return this.options.groupExpiry * 1000;
  }

  /** The capacity of `channel`: its first matching channelCapacity rule, else `capacity`. */
  protected capacityFor(channel: string): number {
    return this.capacities.capacityFor(channel);
  }

  /** Whether this instance's newChannel() made `channel`. */
  protected isOwnChannel(channel: string): boolean {
    const bang = channel.indexOf("!");
    const marker = this.ownChannelMarker;
    return bang >= marker.length && channel.startsWith(marker, bang + 1 - marker.length);
  }

  /** How many channels this instance has added to groups and not yet discarded (for leak checks). */
  protected get trackedMemberships(): number {
    return this.memberships.size;
  }

  /** Checks a name receive() has not seen lately, remembering it when it passes. */
  private checkReceivable(channel: string): void {
    assertChannelName(channel);
    if (isProcessLocal(channel) && !this.isOwnChannel(channel)) {
      throw new ChannelLayerError(
        "NOT_LOCAL_CHANNEL",
        `Channel ${channel} was made by another layer instance's newChannel(); only that instance can receive on it`,
      );
    }
    if (this.receivable.size >= RECEIVABLE_CACHE_LIMIT) this.receivable.clear();
    this.receivable.add(channel);
  }

  /** Throws LayerClosed once close() has been called. */
  protected assertOpen(): void {
    if (this.closing !== undefined) throw new LayerClosed();
  }

  private admit(message: Message): Message {
    if (!this.copiesMessages) {
      validateMessage(message);
      return message;
    }
    const copy = copyValidMessage(message);
    // UTF-8 takes at most 3 bytes per UTF-16 unit, so only a message this close to the limit is
    // worth encoding to learn its exact size.
    if (lastSizeLowerBound() * 3 > this.options.maxMessageSize) {
      this.sizeProbe ??= new MessageSerializer({ maxMessageSize: this.options.maxMessageSize });
      this.sizeProbe.encode(copy);
    }
    return copy;
  }

  /** Called with each name newChannel() makes, before it is returned. */
  protected _newChannel(_channel: string): void | Promise<void> {}
  /** Queues a valid message; throws ChannelFull at `capacityFor(channel)` if the layer has capacity. */
  protected abstract _send(channel: string, message: Message): Promise<void>;
  /** Resolves with the next message; rejects with AbortError on abort and LayerClosed on close. */
  protected abstract _receive(channel: string, signal: AbortSignal | undefined): Promise<Message>;
  protected abstract _groupAdd(group: string, channel: string): Promise<void>;
  protected abstract _groupDiscard(group: string, channel: string): Promise<void>;
  /** Delivers to every member that has room, skipping full ones. */
  protected abstract _groupSend(group: string, message: Message): Promise<void>;
  /** Drops the channel's local buffer, rejects its receives, removes it from `groups`. */
  protected abstract _discardChannel(channel: string, groups: readonly string[]): Promise<void>;
  protected abstract _flush(): Promise<void>;
  /** Releases resources; pending receives must reject with LayerClosed. */
  protected abstract _close(): Promise<void>;
}
