export { type BackoffOptions, reconnectDelay } from "./backoff.js";
export { ChannelLayersClient, type ClientState, type SendResult } from "./client.js";
export type { AnyMessageHandler, MessageHandler, ServerMessage } from "./dispatcher.js";
export { ClientError, type ClientErrorCode } from "./errors.js";
export { HEARTBEAT_PING, HEARTBEAT_PONG } from "./heartbeat.js";
export type { SocketCloseEvent, SocketMessageEvent, WebSocketConstructor, WebSocketLike } from "./host.js";
export type {
  CloseEvent,
  GapEvent,
  Lifecycle,
  LifecycleEventMap,
  LifecycleListener,
  OpenEvent,
  ReconnectingEvent,
} from "./lifecycle.js";
export {
  type ClientOptions,
  FINAL_CLOSE_CODES,
  reconnectUnlessFinal,
  type SocketClose,
} from "./options.js";
export {
  type Presence,
  type PresenceCallback,
  type PresenceDiff,
  type PresenceMap,
  type PresenceMeta,
  PresenceState,
  type PresenceStateOptions,
} from "./presence.js";
export {
  GAP_TYPE,
  type HelloContext,
  type Offset,
  RESUME_TYPE,
  readGroupOffset,
  resumeHello,
  resumeHelloWithOffsets,
  type StreamPosition,
} from "./resume.js";
