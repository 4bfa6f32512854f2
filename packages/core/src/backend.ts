export { Backoff, type BackoffOptions } from "./backoff.js";
export { BaseChannelLayer } from "./base-channel-layer.js";
export { ALL_EXTENSIONS } from "./channel-layer.js";
export { coarseNow } from "./clock.js";
export { type LayerCounters, LayerDiagnostics } from "./layer-diagnostics.js";
export { LocalGroups } from "./local-groups.js";
export { LocalMailboxes } from "./local-mailboxes.js";
export { debugLogger, RateLimitedLog, resolveLogger } from "./logger.js";
export { Mailbox, type ReceivedCounter } from "./mailbox.js";
export { copyMessage, RESERVED_CHANNEL_KEY, validateMessage } from "./message.js";
export {
  assertChannelName,
  assertGroupName,
  type ChannelNameParts,
  INSTANCE_ID_LENGTH,
  instanceIdOf,
  isProcessLocal,
  makeChannelName,
  nonLocalName,
  parseChannelName,
  randomHex,
} from "./names.js";
export type { ResolvedChannelLayerOptions } from "./options.js";
export { redactUrl } from "./redact-url.js";
export { MessageSerializer, type MessageSerializerOptions } from "./serializer.js";
