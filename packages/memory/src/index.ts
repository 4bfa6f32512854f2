export {
  InMemoryChannelLayer,
  type InMemoryChannelLayerOptions,
  type InMemoryChannelLayerStats,
} from "./in-memory-channel-layer.js";
