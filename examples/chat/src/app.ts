import type { ChannelLayer } from "@channel-layers/core";
import { serve, type WebsocketServer } from "@channel-layers/runtime";
import { createApplication } from "./asgi.js";
import { createChannelLayer } from "./layer.js";
import type { Settings } from "./settings.js";

/** The running example: its server and the layer it uses. */
export interface ChatServer {
  server: WebsocketServer;
  layer: ChannelLayer;
  /** Where the chat index page is, e.g. http://127.0.0.1:8000/chat/. */
  chatUrl: string;
}

/** `runserver`: makes the layer, serves the application, resolves once listening. */
export async function startChatServer(
  settings: Settings,
  options: { shutdownSignals?: NodeJS.Signals[] } = {},
): Promise<ChatServer> {
  const layer = await createChannelLayer(settings);
  const server = await serve(createApplication(layer, settings), {
    host: settings.host,
    port: settings.port,
    channelLayer: layer,
    ...options,
  });
  const shown = settings.host === "0.0.0.0" || settings.host === "::" ? `http://localhost:${server.port}` : server.url;
  return { server, layer, chatUrl: `${shown}/chat/` };
}
