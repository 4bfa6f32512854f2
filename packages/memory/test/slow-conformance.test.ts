import { channelLayerConformance } from "@channel-layers/core/conformance";
import { RefusedLayer, SlowLayer } from "./fixtures/slow-layer.js";

// A correct layer with 10 ms added to every operation passes with the timeScale docs/conformance.md
// recommends for such a layer, whatever vitest's default test timeout: each test sets its own.
channelLayerConformance({
  name: "InMemoryChannelLayer with 10 ms per operation",
  factory: ({ sibling: _noSiblings, ...options }) => new SlowLayer(options, 10),
  unreachableFactory: () => new RefusedLayer({}, 10),
  timeScale: 4,
});
