import type { ChannelLayer, Message } from "@channel-layers/core";
import { type Application, type ApplicationLike, type Scope, toApplication } from "../application.js";
import { ConsumerError } from "../errors.js";
import { getChannelLayer } from "../settings/registry.js";
import { CloseCode } from "../websocket-consumer.js";
import { OutputQueue } from "./output-queue.js";

/** Options of WebsocketCommunicator. */
export interface WebsocketCommunicatorOptions {
  /** Request headers, e.g. `{ origin: "http://localhost" }` or `[["cookie", "a=b"]]`. */
  headers?: Record<string, string> | [string, string][];
  /** Subprotocols the client offers. */
  subprotocols?: string[];
  /** The layer consumers get; default `getChannelLayer()`, the settings' default layer; null for none. */
  channelLayer?: ChannelLayer | null;
  /** More scope keys (e.g. `user`, `client`). */
  scope?: Partial<Scope>;
}

/** What connect() found: accepted (with the chosen subprotocol) or rejected at the handshake. */
export type ConnectResult =
  | { connected: true; subprotocol: string | null }
  | {
      connected: false;
      /** The HTTP status the client would get: 403 for a close before accept, 404 from URLRouter... */
      status: number;
      /** The close code the application gave (1000 when it gave none). */
      code: number;
    };

/** A frame the application sent: a string (text) or bytes (binary). */
export type Frame = string | Uint8Array;

function normalizeHeaders(headers: WebsocketCommunicatorOptions["headers"]): [string, string][] {
  const entries = Array.isArray(headers) ? headers : Object.entries(headers ?? {});
  return entries.map(([name, value]) => [name.toLowerCase(), value]);
}

/**
 * Channels' WebsocketCommunicator: runs an application (a consumer class, a router...) for one
 * connection without a network, feeding it client events and reading what it sends, each wait
 * bounded by a timeout. It plays the server's part as `serve()` does: a close before accept is a
 * rejected handshake, and a close after accept is answered with websocket.disconnect.
 */
export class WebsocketCommunicator {
  readonly scope: Scope;
  private readonly inbound: Message[] = [];
  private inboundWaiter: ((event: Message) => void) | undefined;
  private readonly outbound = new OutputQueue<Message>();
  private readonly running: Promise<void>;
  private finished = false;
  private failure: unknown;
  private accepted = false;
  private disconnected = false;

  constructor(application: ApplicationLike, path: string, options: WebsocketCommunicatorOptions = {}) {
    if (typeof path !== "string") throw new TypeError(`path must be a string; got ${typeof path}`);
    const query = path.indexOf("?");
    const rawPath = query === -1 ? path : path.slice(0, query);
    let decoded = rawPath;
    try {
      decoded = decodeURIComponent(rawPath);
    } catch {}
    this.scope = {
      type: "websocket",
      path: decoded,
      raw_path: rawPath,
      query_string: query === -1 ? "" : path.slice(query + 1),
      headers: normalizeHeaders(options.headers),
      subprotocols: options.subprotocols ?? [],
      scheme: "ws",
      url_route: { args: [], kwargs: {} },
      channel_layer: options.channelLayer,
      ...options.scope,
    };
    this.running = this.start(toApplication(application));
  }

  /** Sends websocket.connect; resolves with whether the application accepted. */
  async connect(timeoutMs = 1000): Promise<ConnectResult> {
    this.sendInput({ type: "websocket.connect" });
    const response = await this.receiveOutput(timeoutMs);
    if (response.type === "websocket.accept") {
      return { connected: true, subprotocol: typeof response.subprotocol === "string" ? response.subprotocol : null };
    }
    if (response.type === "websocket.close") {
      return { connected: false, status: 403, code: typeof response.code === "number" ? response.code : 1000 };
    }
    if (response.type === "websocket.http.response.start") {
      await this.receiveOutput(timeoutMs); // the body
      return { connected: false, status: typeof response.status === "number" ? response.status : 403, code: 1000 };
    }
    throw new ConsumerError("INVALID_EVENT", `Expected websocket.accept or a rejection; got ${response.type}`);
  }

  /** Sends a frame from the client: a string is a text frame, bytes a binary one. */
  async sendTo(data: Frame): Promise<void> {
    if (typeof data === "string") this.sendInput({ type: "websocket.receive", text: data });
    else if (data instanceof Uint8Array) this.sendInput({ type: "websocket.receive", bytes: data });
    else throw new TypeError(`sendTo takes a string or a Uint8Array; got ${typeof data}`);
  }

  /** Sends `content` as a JSON text frame. */
  async sendJsonTo(content: unknown): Promise<void> {
    await this.sendTo(JSON.stringify(content));
  }

  /** The next frame the application sent; rejects if it sent something else (a close) or nothing in time. */
  async receiveFrom(timeoutMs = 1000): Promise<Frame> {
    const event = await this.receiveOutput(timeoutMs);
    if (event.type !== "websocket.send") {
      const code = event.type === "websocket.close" ? ` (code ${String(event.code ?? 1000)})` : "";
      throw new ConsumerError("INVALID_EVENT", `Expected a frame from the application; got ${event.type}${code}`);
    }
    if (typeof event.text === "string") return event.text;
    if (event.bytes instanceof Uint8Array) return event.bytes;
    throw new ConsumerError("INVALID_EVENT", "websocket.send carried neither text nor bytes");
  }

  /** The next frame, parsed as JSON (it must be a text frame). */
  async receiveJsonFrom(timeoutMs = 1000): Promise<unknown> {
    const frame = await this.receiveFrom(timeoutMs);
    if (typeof frame !== "string") throw new ConsumerError("INVALID_EVENT", "Expected a JSON text frame; got bytes");
    return JSON.parse(frame);
  }

  /** The next raw event the application sent (websocket.send, websocket.close...). */
  receiveOutput(timeoutMs = 1000): Promise<Message> {
    return this.outbound.take(timeoutMs, "the application's next event");
  }

  /** True when the application sends nothing within `timeoutMs` (what arrives is kept for the next receive). */
  async receiveNothing(timeoutMs = 100): Promise<boolean> {
    if (this.outbound.size > 0) return false;
    try {
      const event = await this.receiveOutput(timeoutMs);
      this.outbound.push(event);
      return false;
    } catch (error) {
      if (error instanceof ConsumerError && error.code === "TIMEOUT") return true;
      throw error;
    }
  }

  /** The client closes with `code`; resolves when the application has ended, rethrowing its error. */
  async disconnect(code: number = CloseCode.normal, timeoutMs = 1000): Promise<void> {
    this.deliverDisconnect(code);
    await this.wait(timeoutMs);
  }

  /** Waits for the application to end; rejects with its error, or TIMEOUT. */
  async wait(timeoutMs = 1000): Promise<void> {
    if (!this.finished) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), timeoutMs);
      });
      const outcome = await Promise.race([this.running, timedOut]);
      clearTimeout(timer);
      if (outcome === "timeout") {
        throw new ConsumerError("TIMEOUT", `The application did not end within ${timeoutMs} ms`);
      }
    }
    if (this.failure !== undefined) throw this.failure;
  }

  private async start(application: Application): Promise<void> {
    try {
      // The settings' layer is made asynchronously (its backend is imported on first use).
      if (this.scope.channel_layer === undefined) this.scope.channel_layer = await getChannelLayer();
      await application(this.scope, this.receiveInput, this.onOutput);
    } catch (error) {
      this.failure = error;
    } finally {
      this.finished = true;
      this.outbound.fail(
        () => this.failure ?? new ConsumerError("INVALID_EVENT", "The application ended; it will send nothing more"),
      );
    }
  }

  private readonly receiveInput = (): Promise<Message> => {
    const next = this.inbound.shift();
    if (next !== undefined) return Promise.resolve(next);
    return new Promise((resolve) => {
      this.inboundWaiter = resolve;
    });
  };

  private readonly onOutput = async (event: Message): Promise<void> => {
    if (event.type === "websocket.accept") this.accepted = true;
    this.outbound.push(event);
    if (event.type === "websocket.close") {
      // The server's part: a rejected handshake, or the client answering the close, ends in a disconnect.
      this.deliverDisconnect(this.accepted ? (typeof event.code === "number" ? event.code : 1000) : CloseCode.abnormal);
    } else if (event.type === "websocket.http.response.body") {
      this.deliverDisconnect(CloseCode.abnormal);
    }
  };

  private deliverDisconnect(code: number): void {
    if (this.disconnected) return;
    this.disconnected = true;
    this.sendInput({ type: "websocket.disconnect", code });
  }

  private sendInput(event: Message): void {
    const waiter = this.inboundWaiter;
    if (waiter === undefined) {
      this.inbound.push(event);
      return;
    }
    this.inboundWaiter = undefined;
    waiter(event);
  }
}
