import type { ChannelLayer } from "@channel-layers/core";
import { InMemoryChannelLayer } from "@channel-layers/memory";

let defaultLayer: ChannelLayer | undefined;

/**
 * The process-wide layer test communicators use when given none (Channels' settings default),
 * so consumers under test in one process share groups. Made on first use: an in-memory layer.
 */
export function getDefaultChannelLayer(): ChannelLayer {
  if (defaultLayer === undefined || (defaultLayer as { closed?: boolean }).closed === true) {
    defaultLayer = new InMemoryChannelLayer();
  }
  return defaultLayer;
}

/** Replaces the process-wide default layer (e.g. with a Redis layer for a test run). */
export function setDefaultChannelLayer(layer: ChannelLayer): void {
  defaultLayer = layer;
}
