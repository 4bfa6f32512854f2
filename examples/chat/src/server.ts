// `pnpm start`: the chat example at http://127.0.0.1:8000/chat/ (PORT and HOST change it), on the
// layer CHANNEL_LAYER_URL names (in-memory without it). SIGTERM or Ctrl-C shuts down gracefully.
import { startChatServer } from "./app.js";
import { describeChatLayer } from "./layers.js";
import { readSettings } from "./settings.js";

try {
  const chat = await startChatServer(readSettings(process.env));
  const page = (path: string) => chat.chatUrl.replace(/chat\/$/, path);
  // One write, so a process reading our output sees the whole banner at once, never half of it.
  console.log(
    [
      `Chat example on ${chat.chatUrl} (channel layer: ${chat.layer.constructor.name})`,
      describeChatLayer(chat),
      `Echo on ${page("echo/")}, notifications on ${page("notification/<center>/")}`,
    ].join("\n"),
  );
} catch (error) {
  console.error("The chat example could not start:", error instanceof Error ? error.message : error);
  process.exit(1);
}
