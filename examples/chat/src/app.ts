import type { ChannelLayer } from "@channel-layers/core";
import { getChannelLayer, serve, type WebsocketServer } from "@channel-layers/runtime";
import { createApplication } from "./asgi.js";
import type { Settings } from "./settings.js";

/** The running example: its server and the layer it uses. */
export interface ChatServer {
  server: WebsocketServer;
  /** The settings' default layer (CHANNEL_LAYER_URL, in-memory without it). */
  layer: ChannelLayer;
  /** Where the chat index page is, e.g. http://127.0.0.1:8000/chat/. */
  chatUrl: string;
}

/** `runserver`: serves the application on the settings' layer, resolves once listening. */
export async function startChatServer(
  settings: Settings,
  options: { shutdownSignals?: NodeJS.Signals[] } = {},
): Promise<ChatServer> {
  const server = await serve(createApplication(settings), { host: settings.host, port: settings.port, ...options });
  const shown = settings.host === "0.0.0.0" || settings.host === "::" ? `http://localhost:${server.port}` : server.url;
  return { server, layer: await getChannelLayer(), chatUrl: `${shown}/chat/` };
}
