import { type ChannelLayer, hasHistory, hasPresence } from "@channel-layers/core";
import {
  type ChannelLayerConfig,
  closeChannelLayers,
  configureChannelLayers,
  getChannelLayer,
} from "@channel-layers/runtime";
import type { Settings } from "./settings.js";

/** How long a room keeps a message for pages that reconnect: an hour, at most chatHistoryLength of them. */
export const CHAT_HISTORY_MAX_AGE_MS = 3_600_000;

/** The example's layer and what its rooms can do on it. */
export interface ChatLayer {
  layer: ChannelLayer;
  /** Who is online: the layer lists the presence extension. */
  presence: boolean;
  /** Pages get what they missed after a reconnect: the layer keeps the rooms' history. */
  resume: boolean;
}

/**
 * CHANNEL_LAYERS for the example: CHANNEL_LAYER_URL's layer, whose chat_* groups (the rooms) keep
 * their recent messages. A backend without the history extension would refuse every message to
 * such a group, so there the rooms go without history: they chat as the tutorial's, minus resume.
 */
export async function configureChatLayer(
  settings: Pick<Settings, "channelLayer" | "chatHistoryLength">,
): Promise<ChatLayer> {
  const setting = settings.channelLayer ?? "memory://";
  if (settings.chatHistoryLength > 0) {
    const rule = { maxLength: settings.chatHistoryLength, maxAgeMs: CHAT_HISTORY_MAX_AGE_MS };
    const config: ChannelLayerConfig = typeof setting === "string" ? { url: setting } : setting;
    configureChannelLayers({
      default: { ...config, options: { ...config.options, groupHistory: { "chat_*": rule } } },
    });
    const layer = await getChannelLayer();
    if (hasHistory(layer)) return { layer, presence: hasPresence(layer), resume: true };
    await closeChannelLayers();
  }
  configureChannelLayers({ default: setting });
  const layer = await getChannelLayer();
  return { layer, presence: hasPresence(layer), resume: false };
}

/** One line on what the rooms can do, for the start-up output. */
export function describeChatLayer({ layer, presence, resume }: ChatLayer): string {
  const name = layer.constructor.name;
  const online = presence ? "who is online" : `no list of who is online (${name} has no presence)`;
  const missed = resume ? "resume after reconnect" : "no resume after reconnect (the rooms keep no history)";
  return `Rooms show ${online}, ${missed}`;
}
