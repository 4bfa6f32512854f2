export { deletePrefixStreams } from "./admin.js";
export { NatsChannelLayer, type NatsChannelLayerStats } from "./nats-channel-layer.js";
export type { NatsChannelLayerOptions } from "./options.js";
