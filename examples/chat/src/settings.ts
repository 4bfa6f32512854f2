import { DEFAULT_ALLOWED_HOSTS } from "@channel-layers/runtime";

/**
 * The example's settings.py: everything comes from the environment, with runserver's defaults.
 * CHANNEL_LAYERS is not here: the runtime reads CHANNEL_LAYER_URL itself (in-memory without it).
 */
export interface Settings {
  host: string;
  port: number;
  /** ALLOWED_HOSTS, comma-separated: the Origins WebSockets may come from. */
  allowedHosts: string[];
  /** CSRF_TRUSTED_ORIGINS, comma-separated: other sites (scheme://host[:port]) that may POST notifications. */
  csrfTrustedOrigins: string[];
}

const list = (value: string) =>
  value
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");

export function readSettings(env: NodeJS.ProcessEnv): Settings {
  const port = Number(env.PORT ?? 8000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`PORT must be a port number (0 picks a free one); got ${JSON.stringify(env.PORT)}`);
  }
  return {
    host: env.HOST || "127.0.0.1",
    port,
    allowedHosts: env.ALLOWED_HOSTS ? list(env.ALLOWED_HOSTS) : [...DEFAULT_ALLOWED_HOSTS],
    csrfTrustedOrigins: list(env.CSRF_TRUSTED_ORIGINS ?? ""),
  };
}
