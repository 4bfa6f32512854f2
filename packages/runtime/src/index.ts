export {
  type Application,
  type ApplicationFunction,
  type ApplicationLike,
  type ConsumerClass,
  getHeader,
  type HttpHandler,
  type Middleware,
  type Receive,
  type Scope,
  type Send,
  toApplication,
  type UrlRoute,
} from "./application.js";
export { type Authenticate, AuthMiddleware, AuthMiddlewareStack, CookieMiddleware, parseCookies } from "./auth.js";
export { AsyncConsumer } from "./consumer.js";
export { ConsumerPresence } from "./consumer-presence.js";
export { handlerName } from "./dispatch.js";
export {
  AcceptConnection,
  ConsumerError,
  type ConsumerErrorCode,
  DenyConnection,
  RouteNotFound,
  StopConsumer,
} from "./errors.js";
export {
  createHealthChecks,
  type HealthCheckOptions,
  type HealthChecks,
  type HealthEndpointOptions,
  type NotReadyReason,
  type Readiness,
  withHealthChecks,
} from "./health.js";
export {
  AllowedHostsOriginValidator,
  DEFAULT_ALLOWED_HOSTS,
  isOriginAllowed,
  isSameDomain,
  OriginValidator,
} from "./origin.js";
export { GAP_TYPE, RESUME_TYPE } from "./resume.js";
export {
  ChannelNameRouter,
  type ChannelNameRouterApplication,
  denyWithResponse,
  type ProtocolTypeMapping,
  ProtocolTypeRouter,
  path,
  type Route,
  re_path,
  URLRouter,
} from "./routing.js";
export { type DropReason, type RuntimeContext, runtimeContext } from "./runtime-context.js";
export type {
  ConnectEvent,
  DisconnectEvent,
  DisconnectReason,
  RejectEvent,
  RejectReason,
} from "./server/events.js";
export type { ServeOptions, WebsocketServerOptions } from "./server/options.js";
export type { WebsocketServerStats } from "./server/stats.js";
export { attach, serve, WebsocketServer } from "./server/websocket-server.js";
export type { ChannelLayerBackend } from "./settings/backends.js";
export {
  type ChannelLayerConfig,
  type ChannelLayerSetting,
  type ChannelLayerSettingsOptions,
  createChannelLayer,
} from "./settings/create-channel-layer.js";
export { BackendNotInstalled } from "./settings/errors.js";
export {
  type ChannelLayersSettings,
  closeChannelLayers,
  configureChannelLayers,
  getChannelLayer,
} from "./settings/registry.js";
export {
  configureShutdown,
  onShutdown,
  type ShutdownHook,
  type ShutdownOptions,
  shutdown,
} from "./shutdown/coordinator.js";
export { CloseCode, JsonWebsocketConsumer, WebsocketConsumer, type WebsocketData } from "./websocket-consumer.js";
export { runWorker, type Worker, type WorkerOptions } from "./worker.js";
