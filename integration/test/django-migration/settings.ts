import { configureChannelLayers } from "@channel-layers/runtime";

/**
 * settings.py's CHANNEL_LAYERS for the Node app: the Django app's Redis, prefix, capacity and
 * expiries, so the two are one channel layer.
 */
export function configureLikeDjango(env: NodeJS.ProcessEnv = process.env): void {
  configureChannelLayers({
    default: {
      backend: "redis",
      url: env.REDIS_URL ?? "redis://127.0.0.1:6379",
      options: {
        prefix: env.CHANNEL_LAYER_PREFIX ?? "asgi",
        capacity: 100,
        expiry: 60,
        groupExpiry: 86400,
      },
    },
  });
}
