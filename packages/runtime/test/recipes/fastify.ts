import { type ApplicationLike, attach } from "@channel-layers/runtime";
import Fastify from "fastify";

/** Fastify serves HTTP; the channel-layers server takes the WebSocket upgrades under /ws/. */
export async function startWithFastify(websocket: ApplicationLike, port = 8000) {
  const fastify = Fastify();
  fastify.get("/health", async () => ({ ok: true }));
  await fastify.listen({ port, host: "127.0.0.1" });
  const server = await attach(fastify.server, websocket, { path: "/ws/" });
  return { fastify, server };
}
