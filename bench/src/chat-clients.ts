import { io, type Socket } from "socket.io-client";

/**
 * One chat client, whatever the server speaks: it sends `{"message": text}` and hands every
 * `{"message": text}` it receives to `onMessage`. Both kinds decode each frame as an application
 * would (JSON.parse here, socket.io-client's own parser there), so neither side's clients are
 * made cheaper than the other's.
 */
export interface ChatClient {
  send(text: string): void;
  /** Replaces the previous listeners: `lost` hears of the server ending the connection before `close`. */
  listen(message: (text: string) => void, lost: (reason: string) => void): void;
  close(): Promise<void>;
}

/** How to reach a room: the server's base URL and the protocol it speaks. */
export interface ChatEndpoint {
  base: string;
  protocol: "websocket" | "socket.io";
}

/** The few calls of ws's client used here (bench has ws but not its type package). */
interface ClientSocket {
  send(data: string): void;
  close(): void;
  on(event: "message", listener: (data: Buffer) => void): void;
  on(event: "close", listener: (code: number) => void): void;
  once(event: "open", listener: () => void): void;
  once(event: "error", listener: (error: Error) => void): void;
}
type ClientSocketClass = new (url: string, options: { origin: string; perMessageDeflate: boolean }) => ClientSocket;
const { WebSocket } = (await import("ws" as string)) as { WebSocket: ClientSocketClass };

/** The chat apps' protocol: a WebSocket on /ws/chat/<room>/, JSON text frames. */
function openWebsocket(base: string, room: string): Promise<ChatClient> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${base.replace("http", "ws")}/ws/chat/${room}/`, {
      origin: base,
      perMessageDeflate: false,
    });
    let closing = false;
    let onMessage = (_text: string) => {};
    let onLost = (_reason: string) => {};
    socket.on("message", (data) => onMessage((JSON.parse(data.toString()) as { message: string }).message));
    const closed = new Promise<void>((done) =>
      socket.on("close", (code) => {
        if (!closing) onLost(`closed with ${code}`);
        done();
      }),
    );
    socket.once("error", reject);
    socket.once("open", () =>
      resolve({
        send: (text) => socket.send(JSON.stringify({ message: text })),
        listen: (message, lost) => {
          onMessage = message;
          onLost = lost;
        },
        close: () => {
          closing = true;
          socket.close();
          return closed;
        },
      }),
    );
  });
}

/** The Socket.IO peer (bench/peers/socketio-chat.ts): WebSocket transport only, one connection per client. */
function openSocketIo(base: string, room: string): Promise<ChatClient> {
  return new Promise((resolve, reject) => {
    const socket: Socket = io(base, {
      transports: ["websocket"],
      forceNew: true,
      reconnection: false,
      auth: { room },
      extraHeaders: { origin: base },
    });
    let closing = false;
    let onMessage = (_text: string) => {};
    let onLost = (_reason: string) => {};
    socket.on("chat_message", (data: { message: string }) => onMessage(data.message));
    socket.on("disconnect", (reason) => {
      if (!closing) onLost(`disconnected: ${reason}`);
    });
    socket.once("connect_error", reject);
    socket.once("connect", () =>
      resolve({
        send: (text) => socket.emit("chat", { message: text }),
        listen: (message, lost) => {
          onMessage = message;
          onLost = lost;
        },
        close: () => {
          closing = true;
          const closed = new Promise<void>((done) => socket.io.engine.once("close", () => done()));
          socket.disconnect();
          return closed;
        },
      }),
    );
  });
}

/**
 * `count` clients in `room`, spread round-robin over `endpoints` (client i on endpoint i mod n,
 * so client 0, the sender, is on the first), opened 50 at a time.
 */
export async function openClients(endpoints: readonly ChatEndpoint[], room: string, count: number) {
  const clients: ChatClient[] = [];
  for (let start = 0; start < count; start += 50) {
    const batch = Array.from({ length: Math.min(50, count - start) }, (_, i) => {
      const endpoint = endpoints[(start + i) % endpoints.length] as ChatEndpoint;
      return endpoint.protocol === "websocket" ? openWebsocket(endpoint.base, room) : openSocketIo(endpoint.base, room);
    });
    clients.push(...(await Promise.all(batch)));
  }
  return clients;
}
