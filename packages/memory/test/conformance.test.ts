import { channelLayerConformance } from "@channel-layers/core/conformance";
import { InMemoryChannelLayer } from "@channel-layers/memory";
import { RefusedLayer } from "./fixtures/slow-layer.js";

channelLayerConformance({
  name: "InMemoryChannelLayer",
  // Every instance is its own layer already; there is no server, so nothing to dispose of.
  factory: ({ sibling: _noSiblings, ...options }) => new InMemoryChannelLayer(options),
  unreachableFactory: () => new RefusedLayer({}),
});
