import { type ChannelLayer, ChannelLayerError, InvalidOptions } from "@channel-layers/core";
import { type ChannelLayerSetting, createChannelLayer, resolveChannelLayerSetting } from "./create-channel-layer.js";

/** Django's CHANNEL_LAYERS: alias -> a URL, a config object, or a layer you made (and close yourself). */
export type ChannelLayersSettings = Record<string, ChannelLayerSetting | ChannelLayer>;

/** The process's settings; undefined until configureChannelLayers() (then `default` is CHANNEL_LAYER_URL). */
let settings: ChannelLayersSettings | undefined;
/** Layers made from the settings, by alias: these the settings own and closeChannelLayers() closes. */
const made = new Map<string, Promise<ChannelLayer>>();
/** Set by closeChannelLayers(): the process is done with its layers, so none is made again behind its back. */
let closed = false;

function isPlainObject(value: object): boolean {
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function isLayer(value: unknown): value is ChannelLayer {
  return (
    typeof value === "object" &&
    value !== null &&
    !isPlainObject(value) &&
    typeof (value as ChannelLayer).groupSend === "function" &&
    typeof (value as ChannelLayer).receive === "function"
  );
}

/**
 * Sets the process's channel layers, as CHANNEL_LAYERS in Django's settings:
 * `configureChannelLayers({ default: "redis://127.0.0.1:6379/0", jobs: { backend: "postgres", url } })`.
 * Each setting is checked now (bad URLs and options throw InvalidOptions); layers are made on
 * first `getChannelLayer(alias)`. Call it before anything uses a layer, or after
 * closeChannelLayers(); `{}` goes back to CHANNEL_LAYER_URL for the default.
 */
export function configureChannelLayers(channelLayers: ChannelLayersSettings): void {
  if (typeof channelLayers !== "object" || channelLayers === null || Array.isArray(channelLayers)) {
    throw new InvalidOptions("configureChannelLayers takes { alias: URL | { backend, url, options } | layer }");
  }
  if (made.size > 0) {
    throw new InvalidOptions(
      `Channel layers (${[...made.keys()].join(", ")}) are already in use: configure before the first getChannelLayer(), or call closeChannelLayers() first`,
    );
  }
  const checked: ChannelLayersSettings = {};
  for (const [alias, setting] of Object.entries(channelLayers)) {
    if (!isLayer(setting)) resolveChannelLayerSetting(setting);
    checked[alias] = setting;
  }
  settings = checked;
  closed = false;
}

/** The setting for `alias`: configured, else for "default" CHANNEL_LAYER_URL, else the in-memory layer. */
function settingOf(alias: string): ChannelLayerSetting | ChannelLayer {
  const configured = settings?.[alias];
  if (configured !== undefined) return configured;
  if (alias === "default") return process.env.CHANNEL_LAYER_URL || "memory://";
  const known = Object.keys(settings ?? {});
  throw new InvalidOptions(
    `No channel layer ${JSON.stringify(alias)} is configured (${known.length > 0 ? `configured: ${known.join(", ")}` : "none is"}): add it with configureChannelLayers()`,
  );
}

/**
 * Django's get_channel_layer(): the process's layer for `alias`, made on first call and the same
 * one afterwards. serve(), attach(), runWorker() and the test communicators use it when given no
 * layer. Rejects with BACKEND_NOT_INSTALLED, INVALID_OPTIONS, or LAYER_CLOSED after
 * closeChannelLayers().
 */
export async function getChannelLayer(alias = "default"): Promise<ChannelLayer> {
  if (closed) {
    throw new ChannelLayerError(
      "LAYER_CLOSED",
      "The settings' channel layers were closed (the process is shutting down): call configureChannelLayers() to make new ones",
    );
  }
  const existing = made.get(alias);
  if (existing !== undefined) return existing;
  const setting = settingOf(alias);
  if (isLayer(setting)) return setting;
  const making = createChannelLayer(setting);
  made.set(alias, making);
  // A failed attempt is forgotten, so the next call says why again instead of a stale rejection.
  making.catch(() => made.get(alias) === making && made.delete(alias));
  return making;
}

/**
 * Closes every layer the settings made (not the ones you configured as instances), and makes
 * getChannelLayer() reject until configureChannelLayers() is called again. The shutdown
 * coordinator calls it last. Rejects with the first failure after trying every layer.
 */
export async function closeChannelLayers(): Promise<void> {
  closed = true;
  const layers = [...made.values()];
  made.clear();
  const results = await Promise.allSettled(
    layers.map(async (making) => {
      const layer = await making.catch(() => undefined);
      await layer?.close();
    }),
  );
  const failed = results.find((result): result is PromiseRejectedResult => result.status === "rejected");
  if (failed !== undefined) throw failed.reason;
}
