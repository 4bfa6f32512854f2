import type { ChannelLayer } from "@channel-layers/core";
import { InMemoryChannelLayer } from "@channel-layers/memory";
import type { Settings } from "./settings.js";

/**
 * CHANNEL_LAYERS from settings.py: the in-memory layer by default, else the backend CHANNEL_LAYER
 * names. Backends are imported only when chosen, so the default needs none of them to load.
 */
export async function createChannelLayer(settings: Settings): Promise<ChannelLayer> {
  const { layerUrl: url, layerPrefix: prefix } = settings;
  switch (settings.layer) {
    case "memory":
      return new InMemoryChannelLayer();
    case "redis": {
      const { RedisChannelLayer } = await import("@channel-layers/redis");
      return new RedisChannelLayer({ hosts: [url], prefix });
    }
    case "postgres": {
      const { PostgresChannelLayer } = await import("@channel-layers/postgres");
      return new PostgresChannelLayer({ connectionString: url, prefix });
    }
    case "nats": {
      const { NatsChannelLayer } = await import("@channel-layers/nats");
      return new NatsChannelLayer({ servers: url, prefix });
    }
  }
}
