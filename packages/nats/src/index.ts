export { deletePrefixStreams } from "./admin.js";
export { NatsChannelLayer, type NatsChannelLayerStats } from "./nats-channel-layer.js";
export {
  DEFAULT_ACK_WAIT,
  DEFAULT_NATS_SERVERS,
  DEFAULT_PREFIX,
  DEFAULT_REQUEST_TIMEOUT,
  type NatsChannelLayerOptions,
} from "./options.js";
export { decodeToken, encodeToken, SubjectMap } from "./subjects.js";
