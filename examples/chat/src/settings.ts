import { DEFAULT_ALLOWED_HOSTS } from "@channel-layers/runtime";

/** Which channel layer the example runs on: CHANNEL_LAYER, one environment variable. */
export type LayerKind = "memory" | "redis" | "postgres" | "nats";

/** The example's settings.py: everything comes from the environment, with runserver's defaults. */
export interface Settings {
  host: string;
  port: number;
  layer: LayerKind;
  /** Server URL of the chosen backend (REDIS_URL, DATABASE_URL or NATS_URL). */
  layerUrl: string;
  /** CHANNEL_LAYER_PREFIX: processes with the same backend and prefix share rooms. */
  layerPrefix: string | undefined;
  /** ALLOWED_HOSTS, comma-separated: the Origins WebSockets may come from. */
  allowedHosts: string[];
}

const LAYER_URLS: Record<Exclude<LayerKind, "memory">, [variable: string, fallback: string]> = {
  redis: ["REDIS_URL", "redis://127.0.0.1:6379"],
  postgres: ["DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test"],
  nats: ["NATS_URL", "nats://127.0.0.1:4222"],
};

export function readSettings(env: NodeJS.ProcessEnv): Settings {
  const layer = (env.CHANNEL_LAYER || "memory").toLowerCase();
  if (layer !== "memory" && !(layer in LAYER_URLS)) {
    throw new Error(`CHANNEL_LAYER must be memory, redis, postgres or nats; got ${JSON.stringify(env.CHANNEL_LAYER)}`);
  }
  const port = Number(env.PORT ?? 8000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`PORT must be a port number (0 picks a free one); got ${JSON.stringify(env.PORT)}`);
  }
  const [variable, fallback] = layer === "memory" ? ["", ""] : LAYER_URLS[layer as keyof typeof LAYER_URLS];
  return {
    host: env.HOST || "127.0.0.1",
    port,
    layer: layer as LayerKind,
    layerUrl: variable ? env[variable] || fallback : "",
    layerPrefix: env.CHANNEL_LAYER_PREFIX || undefined,
    allowedHosts: env.ALLOWED_HOSTS
      ? env.ALLOWED_HOSTS.split(",").map((host) => host.trim())
      : [...DEFAULT_ALLOWED_HOSTS],
  };
}
