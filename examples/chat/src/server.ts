// `pnpm start`: the chat example on the layer CHANNEL_LAYER names (in-memory by default) at
// http://127.0.0.1:8000/chat/ (PORT and HOST change it). SIGTERM or Ctrl-C shuts down gracefully.
import { startChatServer } from "./app.js";
import { readSettings } from "./settings.js";

try {
  const settings = readSettings(process.env);
  const { chatUrl } = await startChatServer(settings);
  console.log(`Chat example on ${chatUrl} (channel layer: ${settings.layer})`);
  console.log(
    `Echo (seed 000) on ${chatUrl.replace(/chat\/$/, "echo/")}, notifications (seed 001) on ${chatUrl.replace(/chat\/$/, "notification/<center>/")}`,
  );
} catch (error) {
  console.error("The chat example could not start:", error instanceof Error ? error.message : error);
  process.exit(1);
}
