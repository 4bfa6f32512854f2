export { BaseChannelLayer } from "./base-channel-layer.js";
export { CapacityLookup, globToRegExp } from "./capacity.js";
export { ALL_EXTENSIONS, type ChannelLayer, Extension, type ReceiveOptions } from "./channel-layer.js";
export { coarseNow } from "./clock.js";
export {
  AbortError,
  BackendUnavailable,
  ChannelDiscarded,
  ChannelFull,
  ChannelLayerError,
  type ChannelLayerErrorCode,
  InvalidMessage,
  InvalidName,
  InvalidOptions,
  LayerClosed,
  MessageTooLarge,
} from "./errors.js";
export { LocalMailboxes } from "./local-mailboxes.js";
export {
  consoleLogger,
  debugLogger,
  type LogDetails,
  type Logger,
  RateLimitedLog,
  resolveLogger,
} from "./logger.js";
export { Mailbox } from "./mailbox.js";
export {
  copyMessage,
  copyValidMessage,
  lastSizeLowerBound,
  type Message,
  RESERVED_CHANNEL_KEY,
  validateMessage,
} from "./message.js";
export {
  assertChannelName,
  assertGroupName,
  isProcessLocal,
  MAX_NAME_LENGTH,
  makeChannelName,
  nonLocalName,
  randomHex,
} from "./names.js";
export {
  type ChannelCapacityRule,
  type ChannelLayerOptions,
  DEFAULT_CAPACITY,
  DEFAULT_EXPIRY,
  DEFAULT_GROUP_EXPIRY,
  DEFAULT_MAX_MESSAGE_SIZE,
  type ResolvedChannelLayerOptions,
  resolveOptions,
} from "./options.js";
export { RingQueue } from "./ring-queue.js";
export { MessageSerializer, type MessageSerializerOptions } from "./serializer.js";
export { TimedQueue } from "./timed-queue.js";
