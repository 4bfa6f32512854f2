import { once } from "node:events";
import { type ApplicationLike, attach } from "@channel-layers/runtime";
import express from "express";

/** Express serves HTTP; the channel-layers server takes the WebSocket upgrades under /ws/. */
export async function startWithExpress(websocket: ApplicationLike, port = 8000) {
  const app = express();
  app.get("/health", (_request, response) => {
    response.json({ ok: true });
  });
  const httpServer = app.listen(port, "127.0.0.1");
  await once(httpServer, "listening");
  const server = await attach(httpServer, websocket, { path: "/ws/" });
  return { httpServer, server };
}
