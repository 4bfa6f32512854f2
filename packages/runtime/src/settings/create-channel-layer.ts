import { type ChannelLayer, type ChannelLayerOptions, InvalidOptions } from "@channel-layers/core";
import { redactUrl } from "@channel-layers/core/backend";
import {
  BACKENDS,
  backendOfScheme,
  type ChannelLayerBackend,
  importLayerClass,
  type LayerOptions,
  queryOptions,
} from "./backends.js";
import { parseSettingsUrl } from "./url.js";

/**
 * The backend's constructor options: Channels' own (typed here), the prefix, and the backend's
 * own (`hosts`, `symmetricEncryptionKeys`, `schema`, `connectOptions`...), passed on as given and
 * checked by the backend.
 */
export type ChannelLayerSettingsOptions = ChannelLayerOptions & { prefix?: string; [option: string]: unknown };

/**
 * One entry of CHANNEL_LAYERS, as Django's `{"BACKEND": ..., "CONFIG": {...}}`: a backend by
 * name, where its server is, and its options.
 */
export interface ChannelLayerConfig {
  /** Which layer: "memory", "redis", "redis-pubsub", "postgres" or "nats". Default: the one `url`'s scheme names. */
  backend?: ChannelLayerBackend;
  /** The server, as in the URL table of docs/runtime.md; its query string may hold options too. */
  url?: string;
  /** Constructor options; they win over the URL's (`connectOptions` is merged key by key). */
  options?: ChannelLayerSettingsOptions;
}

/** A URL (`redis://127.0.0.1:6379/0?prefix=chat`) or a config object. */
export type ChannelLayerSetting = string | ChannelLayerConfig;

const CONFIG_KEYS = new Set(["backend", "url", "options"]);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function fromUrl(
  url: string,
  backendName: ChannelLayerBackend | undefined,
): { backend: ChannelLayerBackend; options: LayerOptions } {
  const parsed = parseSettingsUrl(url);
  const schemeBackend = backendOfScheme(parsed.scheme);
  if (schemeBackend === undefined) {
    throw new InvalidOptions(
      `${redactUrl(url)}: unknown scheme ${parsed.scheme}://; use memory://, redis://, rediss://, redis+sentinel://, postgres://, postgresql://, nats:// or tls://`,
    );
  }
  const backend = backendName ?? schemeBackend;
  if (!BACKENDS[backend].schemes.includes(parsed.scheme)) {
    throw new InvalidOptions(`backend ${backend} does not take ${parsed.scheme}:// URLs (${redactUrl(url)})`);
  }
  const { options, otherParameters } = queryOptions(backend, parsed.query, url);
  const combined = { ...BACKENDS[backend].fromUrl(parsed, url, otherParameters), ...options };
  return { backend, options: BACKENDS[backend].arrange?.(combined) ?? combined };
}

/**
 * The backend and constructor options a setting stands for, checked before any package is
 * imported or any connection made. Throws InvalidOptions, with passwords hidden.
 */
export function resolveChannelLayerSetting(setting: ChannelLayerSetting): {
  backend: ChannelLayerBackend;
  options: LayerOptions;
} {
  if (typeof setting === "string") return fromUrl(setting, undefined);
  if (!isPlainObject(setting)) {
    throw new InvalidOptions(
      `A channel layer setting is a URL or { backend, url, options }; got ${setting === null ? "null" : typeof setting}`,
    );
  }
  for (const key of Object.keys(setting)) {
    if (!CONFIG_KEYS.has(key)) {
      throw new InvalidOptions(
        `Unknown key ${JSON.stringify(key)} in a channel layer setting: use backend, url and options`,
      );
    }
  }
  const { backend, url, options = {} } = setting as { backend?: unknown; url?: unknown; options?: unknown };
  if (backend !== undefined && (typeof backend !== "string" || !Object.hasOwn(BACKENDS, backend))) {
    throw new InvalidOptions(
      `Unknown channel layer backend ${JSON.stringify(backend)}: use ${Object.keys(BACKENDS).join(", ")}`,
    );
  }
  if (url !== undefined && typeof url !== "string") throw new InvalidOptions("url must be a string");
  if (!isPlainObject(options)) throw new InvalidOptions("options must be a plain object of constructor options");
  if (url === undefined && backend === undefined)
    throw new InvalidOptions("A channel layer setting needs a backend or a url");
  const name = backend as ChannelLayerBackend | undefined;
  const base = url === undefined ? { backend: name as ChannelLayerBackend, options: {} } : fromUrl(url, name);
  const connectOptions = {
    ...(base.options.connectOptions as LayerOptions),
    ...(options.connectOptions as LayerOptions),
  };
  return {
    backend: base.backend,
    options: {
      ...base.options,
      ...options,
      ...(Object.keys(connectOptions).length > 0 ? { connectOptions } : {}),
    },
  };
}

/**
 * Makes the layer a setting names, like one entry of Django's CHANNEL_LAYERS: the backend package
 * is imported only now, so an app carries only the backends it uses. A missing package rejects
 * with BackendNotInstalled (code BACKEND_NOT_INSTALLED) naming the package to install; a bad
 * URL or option with InvalidOptions. The caller owns the layer and closes it.
 */
export async function createChannelLayer(setting: ChannelLayerSetting): Promise<ChannelLayer> {
  const { backend, options } = resolveChannelLayerSetting(setting);
  const LayerClass = await importLayerClass(backend);
  return new LayerClass(options);
}
