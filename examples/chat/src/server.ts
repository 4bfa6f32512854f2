// `pnpm start`: the chat example at http://127.0.0.1:8000/chat/ (PORT and HOST change it), on the
// layer CHANNEL_LAYER_URL names (in-memory without it). SIGTERM or Ctrl-C shuts down gracefully.
import { startChatServer } from "./app.js";
import { readSettings } from "./settings.js";

try {
  const { chatUrl, layer } = await startChatServer(readSettings(process.env));
  console.log(`Chat example on ${chatUrl} (channel layer: ${layer.constructor.name})`);
  const page = (path: string) => chatUrl.replace(/chat\/$/, path);
  console.log(`Echo on ${page("echo/")}, notifications on ${page("notification/<center>/")}`);
} catch (error) {
  console.error("The chat example could not start:", error instanceof Error ? error.message : error);
  process.exit(1);
}
