export { Backoff, type BackoffOptions } from "./backoff.js";
export { BaseChannelLayer } from "./base-channel-layer.js";
export { ALL_EXTENSIONS } from "./channel-layer.js";
export { coarseNow } from "./clock.js";
export { assertHistoryOffset, GroupHistoryRules, resolveGroupHistory, stampHistory } from "./history-rules.js";
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
export {
  assertPresenceKey,
  copyPresenceMeta,
  entriesByGroup,
  MAX_PRESENCE_KEY_LENGTH,
  type PresenceEntry,
  presenceDiff,
  presenceListOf,
} from "./presence-entry.js";
export type { PresenceStore } from "./presence-store.js";
export { type PresenceTestControl, presenceTestControl } from "./presence-tracker.js";
export { redactUrl } from "./redact-url.js";
export { RingQueue } from "./ring-queue.js";
export { MessageSerializer, type MessageSerializerOptions } from "./serializer.js";
