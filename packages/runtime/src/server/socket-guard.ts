import type { IncomingMessage, Server } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { RejectReason } from "./events.js";

/** Writes a short HTTP error and closes the socket once it is written. */
export function answerAndClose(socket: Duplex, status: number, body: string): void {
  const text = status === 503 ? "Service Unavailable" : status === 408 ? "Request Timeout" : "Not Found";
  socket.on("error", () => undefined);
  socket.once("finish", () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

interface GuardOptions {
  maxConnections: number;
  handshakeTimeoutMs: number;
  onReject(reason: RejectReason, status: number, socket: Socket): void;
}

/**
 * For the HTTP server serve() made, where every TCP connection is ours: caps how many are open
 * (503 past maxConnections) and closes one that has not sent a whole request within
 * handshakeTimeoutMs (408), since Node keeps a silent connection open forever.
 */
export class SocketGuard {
  private readonly open = new Set<Socket>();
  /** Sockets whose first request has not arrived yet: when they connected, and their timer. */
  private readonly waiting = new Map<Socket, { since: number; timer: NodeJS.Timeout | undefined }>();

  constructor(
    private readonly server: Server,
    private readonly options: GuardOptions,
  ) {
    server.on("connection", this.onConnection);
    server.on("request", this.onRequest);
  }

  /** A request (or upgrade) arrived on `socket`: its timer stops. Returns when the socket connected. */
  requestArrived(socket: Socket): number | undefined {
    const waiting = this.waiting.get(socket);
    if (waiting === undefined) return undefined;
    clearTimeout(waiting.timer);
    this.waiting.delete(socket);
    return waiting.since;
  }

  detach(): void {
    this.server.off("connection", this.onConnection);
    this.server.off("request", this.onRequest);
    for (const { timer } of this.waiting.values()) clearTimeout(timer);
    this.waiting.clear();
  }

  private readonly onConnection = (socket: Socket) => {
    if (this.open.size >= this.options.maxConnections) {
      answerAndClose(socket, 503, "Too many connections: try again later");
      this.options.onReject("too-many-connections", 503, socket);
      return;
    }
    this.open.add(socket);
    const { handshakeTimeoutMs } = this.options;
    const timer =
      handshakeTimeoutMs > 0
        ? setTimeout(() => {
            if (!this.waiting.delete(socket)) return;
            answerAndClose(socket, 408, "No request within the handshake timeout");
            this.options.onReject("handshake-timeout", 408, socket);
          }, handshakeTimeoutMs)
        : undefined;
    timer?.unref();
    this.waiting.set(socket, { since: Date.now(), timer });
    socket.once("close", () => {
      this.open.delete(socket);
      if (this.waiting.has(socket)) this.requestArrived(socket);
    });
  };

  private readonly onRequest = (request: IncomingMessage) => {
    this.requestArrived(request.socket);
  };
}
