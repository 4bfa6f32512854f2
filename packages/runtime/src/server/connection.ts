import { type IncomingMessage, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import type { Message } from "@channel-layers/core";
import type { WebSocket } from "ws";
import type { Application, Scope } from "../application.js";
import { ConsumerError } from "../errors.js";
import { CloseCode } from "../websocket-consumer.js";
import type { ResolvedServerOptions } from "./options.js";

type State = "handshake" | "open" | "closing" | "closed";

/** What a connection needs from its server. */
export interface ConnectionHost {
  readonly options: ResolvedServerOptions;
  /** Completes the HTTP upgrade (ws's handleUpgrade); calls `opened` synchronously on success. */
  upgrade(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    subprotocol: string | null,
    headers: [string, string][],
    opened: (ws: WebSocket) => void,
  ): void;
  /** The connection is over on both sides (application ended, socket closed). */
  forget(connection: Connection): void;
}

const RESOLVED = Promise.resolve();
const ignore = () => undefined;

/**
 * One WebSocket, bridged to an application as ASGI events: the handshake waits for
 * websocket.accept (or a close: HTTP 403, or a denial response), frames become websocket.receive,
 * the close becomes websocket.disconnect. It pauses reading while the application is behind and
 * drops a client that reads too slowly, so neither side grows memory without bound.
 */
export class Connection {
  /** Set on a ping, cleared by the pong: still set at the next ping means the client is gone. */
  awaitingPong = false;
  private state: State = "handshake";
  private readonly inbound: Message[] = [];
  private waiter: ((event: Message) => void) | undefined;
  private ws: WebSocket | undefined;
  private paused = false;
  private disconnectDelivered = false;
  private applicationDone = false;
  private denial: { status: number; headers: [string, string][] } | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private request: IncomingMessage | undefined;
  private socket: Duplex | undefined;
  private head: Buffer | undefined;
  /** Settles when the application has returned (never rejects: errors go to onError). */
  done: Promise<void> = RESOLVED;

  constructor(
    private readonly host: ConnectionHost,
    readonly scope: Scope,
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ) {
    this.request = request;
    this.socket = socket;
    this.head = head;
  }

  get isOpen(): boolean {
    return this.state === "open";
  }

  /** Runs `application` for this connection, starting with websocket.connect. */
  start(application: Application): void {
    const socket = this.socket as Duplex;
    socket.on("error", ignore);
    socket.once("close", this.onHandshakeSocketClose);
    socket.once("end", this.onHandshakeSocketClose);
    // Node leaves an upgrade's socket unread, so a client that leaves would go unnoticed until
    // the handshake timeout: read it, keeping what arrives for ws (clients should send nothing yet).
    socket.on("data", this.onHandshakeData);
    if (this.host.options.handshakeTimeoutMs > 0) {
      this.handshakeTimer = setTimeout(
        () => this.rejectHandshake(503, "The application did not answer the handshake in time"),
        this.host.options.handshakeTimeoutMs,
      );
    }
    this.push({ type: "websocket.connect" });
    let running: Promise<void>;
    try {
      running = application(this.scope, this.receive, this.send);
    } catch (error) {
      running = Promise.reject(error);
    }
    this.done = running.then(
      () => this.onApplicationEnd(undefined),
      (error: unknown) => this.onApplicationEnd(error ?? new Error("The application failed")),
    );
  }

  /** The application's receive(): the next client event. */
  readonly receive = (): Promise<Message> => {
    const next = this.inbound.shift();
    if (next !== undefined) {
      if (this.paused && this.inbound.length <= this.host.options.maxQueuedFrames / 2) {
        this.paused = false;
        this.ws?.resume();
      }
      return Promise.resolve(next);
    }
    if (this.waiter !== undefined) {
      return Promise.reject(new ConsumerError("INVALID_EVENT", "receive() called again before the last one resolved"));
    }
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  };

  /** The application's send(): one event towards the client. */
  readonly send = (event: Message): Promise<void> => {
    try {
      switch (event.type) {
        case "websocket.send":
          this.sendFrame(event);
          break;
        case "websocket.accept":
          this.accept(event);
          break;
        case "websocket.close":
          this.close(event);
          break;
        case "websocket.http.response.start":
          this.startDenial(event);
          break;
        case "websocket.http.response.body":
          this.finishDenial(event);
          break;
        default:
          throw new ConsumerError("INVALID_EVENT", `A WebSocket connection cannot send ${JSON.stringify(event.type)}`);
      }
      return RESOLVED;
    } catch (error) {
      return Promise.reject(error);
    }
  };

  /** Server shutdown: the client is told 1001 and the application gets its disconnect right away. */
  shutdown(): void {
    if (this.state === "handshake") {
      this.rejectHandshake(503, "The server is shutting down");
      return;
    }
    if (this.state === "open") {
      this.state = "closing";
      this.ws?.close(CloseCode.goingAway, "Server shutting down");
    }
    this.deliverDisconnect(CloseCode.goingAway, "Server shutting down");
  }

  /** Ends the socket now, without a closing handshake. */
  terminate(): void {
    this.ws?.terminate();
    this.socket?.destroy();
  }

  /** Keepalive tick: pings, or drops the client that did not answer the last ping. */
  ping(): void {
    const ws = this.ws;
    if (this.state !== "open" || ws === undefined) return;
    if (this.awaitingPong) {
      this.state = "closing";
      ws.terminate();
      return;
    }
    this.awaitingPong = true;
    ws.ping();
  }

  private push(event: Message): void {
    // Frames arriving after the application ended (during the closing handshake) have no reader.
    if (this.applicationDone) return;
    const waiter = this.waiter;
    if (waiter !== undefined) {
      this.waiter = undefined;
      waiter(event);
      return;
    }
    this.inbound.push(event);
    if (!this.paused && this.ws !== undefined && this.inbound.length >= this.host.options.maxQueuedFrames) {
      this.paused = true;
      this.ws.pause();
    }
  }

  private deliverDisconnect(code: number, reason = ""): void {
    if (this.disconnectDelivered) return;
    this.disconnectDelivered = true;
    if (!this.applicationDone) this.push({ type: "websocket.disconnect", code, reason });
  }

  private sendFrame(event: Message): void {
    if (this.state !== "open") {
      if (this.state === "handshake") {
        throw new ConsumerError("INVALID_EVENT", "Accept the socket (accept()) before sending on it");
      }
      return; // Closing or closed: what the client can no longer get is dropped, as in Daphne.
    }
    const ws = this.ws as WebSocket;
    const { text, bytes } = event;
    if (typeof text !== "string" && !(bytes instanceof Uint8Array)) {
      throw new ConsumerError("INVALID_EVENT", "websocket.send needs a string `text` or Uint8Array `bytes`");
    }
    if (ws.bufferedAmount > this.host.options.maxBufferedBytes) {
      // A client this far behind is not reading: drop it rather than buffer without bound.
      this.state = "closing";
      ws.terminate();
      return;
    }
    ws.send(typeof text === "string" ? text : (bytes as Uint8Array));
  }

  private accept(event: Message): void {
    // A client gone during the handshake: its disconnect is already queued for the application.
    if (this.state === "closed") return;
    if (this.state !== "handshake" || this.denial !== undefined) {
      throw new ConsumerError("INVALID_EVENT", "The socket was accepted or rejected already");
    }
    const subprotocol = typeof event.subprotocol === "string" ? event.subprotocol : null;
    if (subprotocol !== null && !this.scope.subprotocols.includes(subprotocol)) {
      throw new ConsumerError(
        "INVALID_EVENT",
        `Subprotocol ${JSON.stringify(subprotocol)} was not offered by the client (offered: ${this.scope.subprotocols.join(", ") || "none"})`,
      );
    }
    const headers = Array.isArray(event.headers) ? (event.headers as [string, string][]) : [];
    const { request, socket, head } = this.endHandshake();
    if (request === undefined || socket === undefined || head === undefined) return;
    this.host.upgrade(request, socket, head, subprotocol, headers, (ws) => this.opened(ws));
    if (this.ws === undefined) {
      // ws refused the request and destroyed the socket.
      this.state = "closed";
      this.deliverDisconnect(CloseCode.abnormal);
      this.forgetIfDone();
    }
  }

  private opened(ws: WebSocket): void {
    this.ws = ws;
    this.state = "open";
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      this.push(
        isBinary ? { type: "websocket.receive", bytes: data } : { type: "websocket.receive", text: data.toString() },
      );
    });
    ws.on("pong", () => {
      this.awaitingPong = false;
    });
    ws.on("error", ignore);
    ws.once("close", (code: number, reason: Buffer) => {
      this.state = "closed";
      this.deliverDisconnect(code, reason.toString());
      this.forgetIfDone();
    });
    if (this.inbound.length >= this.host.options.maxQueuedFrames) {
      this.paused = true;
      ws.pause();
    }
  }

  private close(event: Message): void {
    if (this.state === "handshake") {
      // Channels: closing before accepting rejects the handshake with 403.
      this.rejectHandshake(403, "Access denied");
      return;
    }
    if (this.state !== "open") return;
    const code = typeof event.code === "number" ? event.code : CloseCode.normal;
    const reason = typeof event.reason === "string" ? event.reason : "";
    try {
      (this.ws as WebSocket).close(code, reason);
    } catch (error) {
      throw new ConsumerError(
        "INVALID_EVENT",
        `Cannot close with code ${code} and a ${Buffer.byteLength(reason)}-byte reason: use 1000 or 3000-4999 and at most 123 bytes`,
        { cause: error },
      );
    }
    this.state = "closing";
  }

  private startDenial(event: Message): void {
    if (this.state === "closed") return;
    if (this.state !== "handshake" || this.denial !== undefined) {
      throw new ConsumerError("INVALID_EVENT", "A denial response can only be sent once, before accepting");
    }
    const status = typeof event.status === "number" ? event.status : 403;
    this.denial = { status, headers: Array.isArray(event.headers) ? (event.headers as [string, string][]) : [] };
  }

  private finishDenial(event: Message): void {
    if (this.state === "closed") return;
    if (this.denial === undefined) {
      throw new ConsumerError("INVALID_EVENT", "Send websocket.http.response.start before its body");
    }
    const body = event.body;
    const { status, headers } = this.denial;
    this.rejectHandshake(status, typeof body === "string" || body instanceof Uint8Array ? body : "", headers);
  }

  /** Answers the handshake with a plain HTTP response and tells the application the socket is gone. */
  private rejectHandshake(status: number, body: string | Uint8Array, headers: [string, string][] = []): void {
    if (this.state !== "handshake") return;
    const { socket } = this.endHandshake();
    this.state = "closed";
    if (socket?.writable) {
      const payload = typeof body === "string" ? Buffer.from(body) : body;
      const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}`, "Connection: close"];
      if (!headers.some(([name]) => name.toLowerCase() === "content-type")) {
        lines.push("Content-Type: text/plain; charset=utf-8");
      }
      for (const [name, value] of headers) lines.push(`${name}: ${value}`);
      lines.push(`Content-Length: ${payload.byteLength}`, "", "");
      socket.once("finish", () => socket.destroy());
      socket.write(lines.join("\r\n"));
      socket.end(payload);
    } else {
      socket?.destroy();
    }
    this.deliverDisconnect(CloseCode.abnormal);
    this.forgetIfDone();
  }

  /** Leaves the handshake phase: its timer and listeners go, and the request objects are handed over. */
  private endHandshake() {
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    const { request, socket, head } = this;
    socket?.off("close", this.onHandshakeSocketClose);
    socket?.off("end", this.onHandshakeSocketClose);
    // ws adds its own data listener synchronously in handleUpgrade, so nothing read is lost between.
    socket?.off("data", this.onHandshakeData);
    this.request = undefined;
    this.socket = undefined;
    this.head = undefined;
    return { request, socket, head };
  }

  private readonly onHandshakeData = (chunk: Buffer) => {
    const head = this.head === undefined || this.head.length === 0 ? chunk : Buffer.concat([this.head, chunk]);
    this.head = head;
    if (head.length > this.host.options.maxFrameBytes) this.rejectHandshake(400, "Data before the handshake completed");
  };

  /** The client closed (or half-closed: HTTP servers allow that) its end before the handshake completed. */
  private readonly onHandshakeSocketClose = () => {
    if (this.state !== "handshake") return;
    this.endHandshake().socket?.destroy();
    this.state = "closed";
    this.deliverDisconnect(CloseCode.abnormal);
    this.forgetIfDone();
  };

  private onApplicationEnd(error: unknown): void {
    this.applicationDone = true;
    this.inbound.length = 0;
    this.waiter = undefined;
    if (error !== undefined) this.host.options.onError(error, this.scope);
    if (this.state === "handshake") {
      this.rejectHandshake(500, error === undefined ? "The application ended without accepting" : "Internal error");
    } else if (this.state === "open") {
      this.state = "closing";
      this.ws?.close(error === undefined ? CloseCode.normal : CloseCode.internalError);
    }
    this.forgetIfDone();
  }

  private forgetIfDone(): void {
    if (this.applicationDone && this.state === "closed") this.host.forget(this);
  }
}
