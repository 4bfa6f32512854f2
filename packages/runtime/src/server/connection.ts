import { type IncomingMessage, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { ChannelLayerError, type Message } from "@channel-layers/core";
import type { WebSocket } from "ws";
import type { Application, Scope } from "../application.js";
import { ConsumerError } from "../errors.js";
import type { DropReason, RuntimeContext } from "../runtime-context.js";
import { CloseCode } from "../websocket-consumer.js";
import type { DisconnectReason, RejectReason } from "./events.js";
import type { FrameTarget, FrameWriter } from "./frame-writer.js";
import { heartbeatReply } from "./heartbeat.js";
import { InboundQueue } from "./inbound-queue.js";
import type { ResolvedServerOptions } from "./options.js";
import type { ServerCounters } from "./stats.js";

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
  readonly counters: ServerCounters;
  readonly context: RuntimeContext;
  /** Frames text once per turn for all connections and batches a socket's frames within a turn. */
  readonly frameWriter: FrameWriter;
  /** The handshake completed: counted, and told to onConnect. */
  connected(connection: Connection): void;
  /** An accepted socket closed: counted, and told to onDisconnect. */
  disconnected(connection: Connection, code: number, reason: DisconnectReason): void;
  /** The handshake was refused: counted, and told to onReject. */
  rejected(connection: Connection, reason: RejectReason, status: number): void;
}

const RESOLVED = Promise.resolve();
const ignore = () => undefined;

/** ws's error codes for a message above maxPayload; every other ws error is a protocol error. */
const TOO_BIG = "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH";

/** The INVALID_NAME error in `error`'s cause chain: a name (from a URL, a frame) the layer refused. */
function invalidNameIn(error: unknown): ChannelLayerError | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 8; depth++) {
    if (current instanceof ChannelLayerError && current.code === "INVALID_NAME") return current;
    current = (current as Error & { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * One WebSocket, bridged to an application as ASGI events: the handshake waits for
 * websocket.accept (or a close: HTTP 403, or a denial response), frames become websocket.receive,
 * the close becomes websocket.disconnect. It pauses reading while the application is behind (in
 * frames and in bytes) and drops a client that reads too slowly or pushes past its budget, so
 * neither side grows memory without bound.
 */
export class Connection {
  /** Set on a ping, cleared by the pong: still set at the next ping means the client is gone. */
  awaitingPong = false;
  private state: State = "handshake";
  private readonly inbound: InboundQueue;
  private ws: WebSocket | undefined;
  private frameTarget: FrameTarget | undefined;
  private paused = false;
  private disconnectDelivered = false;
  private applicationDone = false;
  /** Why the server ended the socket, when it did; undefined while the client is the one to close. */
  private closeCause: DisconnectReason | undefined;
  /** Set once the server dropped the client: its queued and later frames never reach the application. */
  private dropped = false;
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
    /** When the handshake began (the TCP connection, or the upgrade request): handshakeTimeoutMs counts from it. */
    private readonly handshakeStartedAt = Date.now(),
  ) {
    this.request = request;
    this.socket = socket;
    this.head = head;
    this.inbound = new InboundQueue((delta) => {
      host.counters.queuedBytes += delta;
    });
  }

  get isOpen(): boolean {
    return this.state === "open";
  }

  /** Bytes of client frames waiting for the application now. */
  get queuedBytes(): number {
    return this.inbound.bytes;
  }

  /** Runs `application` for this connection, starting with websocket.connect. */
  start(application: Application): void {
    const socket = this.socket as Duplex;
    this.host.counters.handshaking++;
    socket.on("error", ignore);
    socket.once("close", this.onHandshakeSocketClose);
    socket.once("end", this.onHandshakeSocketClose);
    // Node leaves an upgrade's socket unread, so a client that leaves would go unnoticed until
    // the handshake timeout: read it, keeping what arrives for ws (clients should send nothing yet).
    socket.on("data", this.onHandshakeData);
    const { handshakeTimeoutMs } = this.host.options;
    if (handshakeTimeoutMs > 0) {
      this.handshakeTimer = setTimeout(
        () =>
          this.rejectHandshake(503, "The application did not answer the handshake in time", [], "handshake-timeout"),
        Math.max(0, this.handshakeStartedAt + handshakeTimeoutMs - Date.now()),
      );
    }
    this.inbound.push({ type: "websocket.connect" });
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
    const next = this.inbound.take();
    const { maxQueuedFrames, maxQueuedBytes } = this.host.options;
    if (this.paused && this.inbound.length <= maxQueuedFrames / 2 && this.inbound.bytes <= maxQueuedBytes / 2) {
      this.paused = false;
      if (!this.dropped) this.ws?.resume();
    }
    return next;
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
      this.rejectHandshake(503, "The server is shutting down", [], "shutting-down");
      return;
    }
    if (this.state === "open") {
      this.state = "closing";
      this.closeCause = "shutdown";
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
      this.drop("ping-timeout", "terminate");
      return;
    }
    this.awaitingPong = true;
    ws.ping();
  }

  /** A frame from the client: queued for the application, with reading paused past the budget. */
  private onFrame(event: Message, bytes: number): void {
    // Frames arriving after the application ended (during the closing handshake) have no reader,
    // and a dropped client's frames (ws still parses what it had read) must not run.
    if (this.applicationDone) return;
    if (this.dropped) {
      this.host.context.countDrop("queued-frame-of-dropped-client");
      return;
    }
    this.host.counters.messagesIn++;
    this.inbound.push(event, bytes);
    const { maxQueuedFrames, maxQueuedBytes, maxFrameBytes } = this.host.options;
    if (this.inbound.bytes > Math.max(2 * maxQueuedBytes, maxQueuedBytes + maxFrameBytes)) {
      // Reading was paused at maxQueuedBytes, yet frames kept arriving: this client does not stop.
      this.drop("too-much-input", "close");
    } else if (!this.paused && (this.inbound.length >= maxQueuedFrames || this.inbound.bytes >= maxQueuedBytes)) {
      this.paused = true;
      this.ws?.pause();
    }
  }

  /**
   * The server gives up on the client: the frames it queued are dropped (the application gets its
   * disconnect next), and the socket is ended: `terminate` at once, `close` with 1008 (reading
   * again so the client's close frame arrives; whatever else comes is discarded), or `ws` when ws
   * is closing it already.
   */
  private drop(reason: Extract<DisconnectReason, DropReason>, end: "terminate" | "close" | "ws"): void {
    if (this.dropped || this.state !== "open") return;
    this.dropped = true;
    this.state = "closing";
    this.closeCause = reason;
    this.host.context.countDrop(reason);
    const frames = this.inbound.dropFrames();
    if (frames > 0) this.host.context.countDrop("queued-frame-of-dropped-client", frames);
    const ws = this.ws as WebSocket;
    if (end === "terminate") ws.terminate();
    else if (end === "close") {
      // ws ends the socket itself if the client never answers the close.
      ws.close(CloseCode.policyViolation, "Too much data before the server could read it");
      ws.resume();
    }
  }

  private deliverDisconnect(code: number, reason = ""): void {
    if (this.disconnectDelivered) return;
    this.disconnectDelivered = true;
    if (!this.applicationDone) this.inbound.push({ type: "websocket.disconnect", code, reason });
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
      this.drop("slow-reader", "terminate");
      return;
    }
    this.host.counters.messagesOut++;
    if (typeof text === "string") this.host.frameWriter.sendText(this.frameTarget as FrameTarget, text);
    else ws.send(bytes as Uint8Array);
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
      // ws refused the request (a malformed header) and answered it 400.
      this.state = "closed";
      this.host.rejected(this, "malformed-request", 400);
      this.deliverDisconnect(CloseCode.abnormal);
      this.forgetIfDone();
    }
  }

  private opened(ws: WebSocket): void {
    this.ws = ws;
    this.frameTarget = this.host.frameWriter.target(ws);
    this.state = "open";
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        this.onFrame({ type: "websocket.receive", bytes: data }, data.length);
        return;
      }
      const text = data.toString();
      // A client's heartbeat is answered here and never reaches the consumer.
      const reply = heartbeatReply(text);
      if (reply !== undefined) ws.send(reply);
      else this.onFrame({ type: "websocket.receive", text }, data.length);
    });
    ws.on("pong", () => {
      this.awaitingPong = false;
    });
    ws.on("error", (error: Error & { code?: string }) => {
      // ws closes the socket itself (1009 for a message too big, 1002 and the like otherwise).
      this.drop(error.code === TOO_BIG ? "message-too-big" : "protocol-error", "ws");
    });
    ws.once("close", (code: number, reason: Buffer) => {
      const cause = this.closeCause ?? (code === CloseCode.abnormal ? "connection-lost" : "client-closed");
      this.state = "closed";
      this.host.disconnected(this, code, cause);
      this.deliverDisconnect(code, reason.toString());
      this.forgetIfDone();
    });
    this.host.connected(this);
    const { maxQueuedFrames, maxQueuedBytes } = this.host.options;
    if (this.inbound.length >= maxQueuedFrames || this.inbound.bytes >= maxQueuedBytes) {
      this.paused = true;
      ws.pause();
    }
  }

  private close(event: Message): void {
    if (this.state === "handshake") {
      // Channels: closing before accepting rejects the handshake with 403.
      this.rejectHandshake(403, "Access denied", [], "denied");
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
    this.closeCause = "application-closed";
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
    this.rejectHandshake(status, typeof body === "string" || body instanceof Uint8Array ? body : "", headers, "denied");
  }

  /** Answers the handshake with a plain HTTP response and tells the application the socket is gone. */
  private rejectHandshake(
    status: number,
    body: string | Uint8Array,
    headers: [string, string][],
    reason: RejectReason,
  ): void {
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
    this.host.rejected(this, reason, status);
    this.deliverDisconnect(CloseCode.abnormal);
    this.forgetIfDone();
  }

  /** Leaves the handshake phase: its timer and listeners go, and the request objects are handed over. */
  private endHandshake() {
    if (this.socket !== undefined) this.host.counters.handshaking--;
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
    if (head.length > this.host.options.maxFrameBytes) {
      this.rejectHandshake(400, "Data before the handshake completed", [], "malformed-request");
    }
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
    this.inbound.clear();
    const invalidName = invalidNameIn(error);
    if (invalidName !== undefined) {
      // A client's input, not a failure of the application: one short line per cause, no stack.
      this.host.context.rateLimitedLog.warn(
        "invalid-name",
        `refused a connection to ${this.scope.path.slice(0, 100)}: ${invalidName.message.slice(0, 200)}`,
      );
    } else if (error !== undefined) {
      this.host.options.onError(error, this.scope);
    }
    if (this.state === "handshake") {
      if (invalidName !== undefined) this.rejectHandshake(400, "Invalid name", [], "invalid-name");
      else if (error === undefined) {
        this.rejectHandshake(500, "The application ended without accepting", [], "application-error");
      } else this.rejectHandshake(500, "Internal error", [], "application-error");
    } else if (this.state === "open") {
      this.state = "closing";
      if (invalidName !== undefined) {
        this.closeCause = "invalid-name";
        this.ws?.close(CloseCode.policyViolation, "Invalid name");
      } else {
        this.closeCause = error === undefined ? "application-closed" : "application-error";
        this.ws?.close(error === undefined ? CloseCode.normal : CloseCode.internalError);
      }
    }
    this.forgetIfDone();
  }

  private forgetIfDone(): void {
    if (this.applicationDone && this.state === "closed") this.host.forget(this);
  }
}
