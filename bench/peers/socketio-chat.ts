// The chat room on Socket.IO 4.8, the peer of examples/chat in `pnpm bench runtime`: a client
// joins room chat_<room> on connecting and sends {"message": "..."}; the server broadcasts
// {"message": "..."} to everyone in the room, sender included, as the tutorial's ChatConsumer does.
// With REDIS_URL set the room spans processes through @socket.io/redis-adapter; without, the
// in-memory adapter. Prints "Socket.IO chat on http://host:port" once listening; SIGTERM exits.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createAdapter } from "@socket.io/redis-adapter";
import { Redis } from "ioredis";
import { Server } from "socket.io";

/** The Origins a WebSocket may come from, as the example's AllowedHostsOriginValidator allows. */
const ALLOWED_HOSTS = new Set((process.env.ALLOWED_HOSTS ?? "127.0.0.1,localhost,[::1]").split(","));

function originAllowed(origin: string | undefined): boolean {
  if (origin === undefined) return false;
  try {
    return ALLOWED_HOSTS.has(new URL(origin).hostname);
  } catch {
    return false;
  }
}

const http = createServer((_request, response) => response.writeHead(404).end());
const io = new Server(http, {
  transports: ["websocket"],
  serveClient: false,
  allowRequest: (request, answer) => answer(null, originAllowed(request.headers.origin)),
});

const redisUrl = process.env.REDIS_URL;
const redisClients: Redis[] = [];
if (redisUrl) {
  const publishing = new Redis(redisUrl);
  const subscribing = publishing.duplicate();
  redisClients.push(publishing, subscribing);
  io.adapter(createAdapter(publishing, subscribing, { key: process.env.SOCKET_IO_KEY ?? "socket.io" }));
}

io.on("connection", (socket) => {
  const room = `chat_${String(socket.handshake.auth.room ?? "")}`;
  socket.join(room);
  socket.on("chat", (data: unknown) => {
    const message = typeof data === "object" && data !== null ? (data as { message?: unknown }).message : undefined;
    if (typeof message !== "string") {
      socket.disconnect(true);
      return;
    }
    io.to(room).emit("chat_message", { message });
  });
});

http.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? "127.0.0.1", () => {
  const { address, port } = http.address() as AddressInfo;
  console.log(`Socket.IO chat on http://${address}:${port} (adapter: ${redisUrl ? "redis" : "in-memory"})`);
});

process.once("SIGTERM", () => {
  io.close(() => {
    for (const client of redisClients) client.disconnect();
    process.exit(0);
  });
});
