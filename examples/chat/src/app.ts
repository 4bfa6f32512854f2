import { serve, type WebsocketServer } from "@channel-layers/runtime";
import { createApplication } from "./asgi.js";
import { type ChatLayer, configureChatLayer } from "./layers.js";
import type { Settings } from "./settings.js";

/** The running example: its server and the layer it uses. */
export interface ChatServer extends ChatLayer {
  server: WebsocketServer;
  /** Where the chat index page is, e.g. http://127.0.0.1:8000/chat/. */
  chatUrl: string;
}

/** `runserver`: configures the layer (src/layers.ts), serves the application on it, resolves once listening. */
export async function startChatServer(
  settings: Settings,
  options: { shutdownSignals?: NodeJS.Signals[] } = {},
): Promise<ChatServer> {
  const chatLayer = await configureChatLayer(settings);
  const server = await serve(createApplication(settings), { host: settings.host, port: settings.port, ...options });
  const shown = settings.host === "0.0.0.0" || settings.host === "::" ? `http://localhost:${server.port}` : server.url;
  return { ...chatLayer, server, chatUrl: `${shown}/chat/` };
}
