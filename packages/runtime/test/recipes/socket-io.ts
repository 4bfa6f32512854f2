import { once } from "node:events";
import { createServer } from "node:http";
import { type ApplicationLike, attach } from "@channel-layers/runtime";
import { Server as SocketIoServer } from "socket.io";

/** Socket.IO under /socket.io/ and channel-layers under /ws/, on one http.Server. */
export async function startWithSocketIo(websocket: ApplicationLike, port = 8000) {
  const httpServer = createServer();
  // By default Socket.IO ends every upgrade it does not handle after 1 s, even ones another
  // listener is still answering (a consumer's connect() may take longer): leave them be.
  const io = new SocketIoServer(httpServer, { destroyUpgrade: false });
  const server = await attach(httpServer, websocket, { path: "/ws/" });
  httpServer.listen(port, "127.0.0.1");
  await once(httpServer, "listening");
  return { httpServer, io, server };
}
