import { WebSocket } from "ws";
import { ConsumerError } from "../errors.js";
import { CloseCode } from "../websocket-consumer.js";
import { OutputQueue } from "./output-queue.js";
import type { ConnectResult, Frame } from "./websocket-communicator.js";

/** Options of LiveWebsocketCommunicator. */
export interface LiveWebsocketCommunicatorOptions {
  /** Request headers, e.g. `{ cookie: "session=..." }`. */
  headers?: Record<string, string>;
  /** The Origin header; default the URL's own origin (http:// for ws://), as a browser on that page sends. */
  origin?: string | null;
  /** Subprotocols to offer. */
  subprotocols?: string[];
}

/**
 * WebsocketCommunicator's calls over a real socket, for end-to-end tests of a running server
 * (Channels' ChannelsLiveServerTestCase use): connect, send and receive frames with timeouts,
 * see the close code.
 */
export class LiveWebsocketCommunicator {
  private ws: WebSocket | undefined;
  private readonly frames = new OutputQueue<Frame>();
  private closedWith: { code: number; reason: string } | undefined;
  private readonly closed = new OutputQueue<{ code: number; reason: string }>();

  constructor(
    readonly url: string,
    private readonly options: LiveWebsocketCommunicatorOptions = {},
  ) {}

  /** Opens the socket; resolves with whether the server accepted (and the HTTP status if not). */
  connect(timeoutMs = 5000): Promise<ConnectResult> {
    if (this.ws !== undefined)
      return Promise.reject(new ConsumerError("INVALID_EVENT", "connect() was called already"));
    const target = new URL(this.url);
    const origin =
      this.options.origin === undefined
        ? `${target.protocol === "wss:" ? "https:" : "http:"}//${target.host}`
        : this.options.origin;
    const ws = new WebSocket(this.url, this.options.subprotocols ?? [], {
      headers: this.options.headers,
      ...(origin === null ? {} : { origin }),
      handshakeTimeout: timeoutMs,
    });
    this.ws = ws;
    ws.on("message", (data: Buffer, isBinary: boolean) => this.frames.push(isBinary ? data : data.toString()));
    ws.on("close", (code: number, reason: Buffer) => {
      this.closedWith = { code, reason: reason.toString() };
      this.closed.push(this.closedWith);
      this.frames.fail(
        () => new ConsumerError("INVALID_EVENT", `The socket is closed (code ${code}); no more frames will arrive`),
      );
    });
    return new Promise<ConnectResult>((resolve, reject) => {
      ws.once("open", () => resolve({ connected: true, subprotocol: ws.protocol === "" ? null : ws.protocol }));
      ws.once("unexpected-response", (_request, response) => {
        response.resume();
        ws.terminate();
        resolve({ connected: false, status: response.statusCode ?? 0, code: CloseCode.abnormal });
      });
      ws.once("error", (error) => {
        if (ws.readyState !== WebSocket.OPEN) reject(error);
      });
    });
  }

  /** Sends a frame: a string as text, bytes as binary. */
  async sendTo(data: Frame): Promise<void> {
    const ws = this.requireSocket();
    await new Promise<void>((resolve, reject) => ws.send(data, (error) => (error ? reject(error) : resolve())));
  }

  /** Sends `content` as a JSON text frame. */
  async sendJsonTo(content: unknown): Promise<void> {
    await this.sendTo(JSON.stringify(content));
  }

  /** The next frame from the server; rejects once the socket is closed, or after `timeoutMs`. */
  receiveFrom(timeoutMs = 5000): Promise<Frame> {
    return this.frames.take(timeoutMs, "a frame from the server");
  }

  /** The next frame, parsed as JSON. */
  async receiveJsonFrom(timeoutMs = 5000): Promise<unknown> {
    const frame = await this.receiveFrom(timeoutMs);
    return JSON.parse(typeof frame === "string" ? frame : Buffer.from(frame).toString());
  }

  /** True when no frame arrives within `timeoutMs` (one that does is kept for the next receive). */
  async receiveNothing(timeoutMs = 100): Promise<boolean> {
    if (this.frames.size > 0) return false;
    try {
      this.frames.push(await this.receiveFrom(timeoutMs));
      return false;
    } catch (error) {
      if (error instanceof ConsumerError && error.code === "TIMEOUT") return true;
      throw error;
    }
  }

  /** Resolves with the close code and reason once the socket is closed (by either end). */
  async waitForClose(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    return this.closedWith ?? this.closed.take(timeoutMs, "the socket to close");
  }

  /** Closes from the client end and waits for the close to complete. */
  async disconnect(code: number = CloseCode.normal, timeoutMs = 5000): Promise<void> {
    const ws = this.ws;
    if (ws === undefined || this.closedWith !== undefined) return;
    ws.close(code);
    await this.waitForClose(timeoutMs);
  }

  private requireSocket(): WebSocket {
    if (this.ws === undefined || this.ws.readyState !== WebSocket.OPEN) {
      throw new ConsumerError("INVALID_EVENT", "The socket is not open: connect() first");
    }
    return this.ws;
  }
}
