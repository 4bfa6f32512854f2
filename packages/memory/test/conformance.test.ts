import { channelLayerConformance } from "@channel-layers/core/conformance";
import { InMemoryChannelLayer } from "@channel-layers/memory";

channelLayerConformance({
  name: "InMemoryChannelLayer",
  factory: ({ prefix: _isolatedPerInstance, ...options }) => new InMemoryChannelLayer(options),
});
