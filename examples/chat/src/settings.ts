import { type ChannelLayerSetting, DEFAULT_ALLOWED_HOSTS } from "@channel-layers/runtime";

/**
 * The example's settings.py: everything comes from the environment, with runserver's defaults.
 * CHANNEL_LAYER_URL picks the layer as one CHANNEL_LAYERS entry would (in-memory without it);
 * src/layers.ts adds the rooms' history to it.
 */
export interface Settings {
  host: string;
  port: number;
  /** ALLOWED_HOSTS, comma-separated: the Origins WebSockets may come from. */
  allowedHosts: string[];
  /** CSRF_TRUSTED_ORIGINS, comma-separated: other sites (scheme://host[:port]) that may POST notifications. */
  csrfTrustedOrigins: string[];
  /** CHANNEL_LAYER_URL (or, from code, a config object): the layer's backend, server and options; undefined is the in-memory layer. */
  channelLayer: ChannelLayerSetting | undefined;
  /** CHAT_HISTORY_LENGTH: messages each room keeps for pages that reconnect (default 100; 0 keeps none). */
  chatHistoryLength: number;
}

const list = (value: string) =>
  value
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");

function wholeNumber(env: NodeJS.ProcessEnv, name: string, fallback: number, max: number, hint: string): number {
  const value = Number(env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new Error(`${name} must be ${hint}; got ${JSON.stringify(env[name])}`);
  }
  return value;
}

export function readSettings(env: NodeJS.ProcessEnv): Settings {
  return {
    host: env.HOST || "127.0.0.1",
    port: wholeNumber(env, "PORT", 8000, 65535, "a port number (0 picks a free one)"),
    allowedHosts: env.ALLOWED_HOSTS ? list(env.ALLOWED_HOSTS) : [...DEFAULT_ALLOWED_HOSTS],
    csrfTrustedOrigins: list(env.CSRF_TRUSTED_ORIGINS ?? ""),
    channelLayer: env.CHANNEL_LAYER_URL || undefined,
    chatHistoryLength: wholeNumber(
      env,
      "CHAT_HISTORY_LENGTH",
      100,
      100_000,
      "a whole number of messages (0 keeps none)",
    ),
  };
}
