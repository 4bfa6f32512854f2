import { reconnectDelay } from "./backoff.js";
import { type AnyMessageHandler, MessageDispatcher, type MessageHandler, type ServerMessage } from "./dispatcher.js";
import { ClientError } from "./errors.js";
import { HEARTBEAT_PING, HEARTBEAT_PONG, Heartbeat } from "./heartbeat.js";
import { logError, SOCKET_OPEN, startTimer, stopTimer, type Timer, type WebSocketLike } from "./host.js";
import { type Lifecycle, LifecycleEmitter, type LifecycleEventMap } from "./lifecycle.js";
import { type ClientOptions, type ResolvedClientOptions, resolveClientOptions } from "./options.js";
import { gapGroupOf, type Offset } from "./resume.js";
import { SendQueue, utf8ByteLength } from "./send-queue.js";

/**
 * Where the client is: `connecting` (a socket is opening), `open`, `reconnecting` (waiting out
 * the backoff delay) or `closed` (by close(), a final close code, or attempts used up).
 */
export type ClientState = "connecting" | "open" | "reconnecting" | "closed";

/** What send() did: sent it on the open connection, or queued it for the next one. */
export type SendResult = "sent" | "queued";

/** 1006 is what a WebSocket reports for a connection lost without a close frame; the client uses it for its own detections too. */
const ABNORMAL_CLOSURE = 1006;

const ignore = () => undefined;

/**
 * A client for the runtime's JSON consumers, for browsers and Node: it keeps one connection open,
 * reconnecting with backoff and jitter, queues sends while offline and flushes them in order,
 * dispatches server frames by `type`, and replaces a connection whose heartbeat goes unanswered.
 * It connects as soon as it is constructed.
 */
export class ChannelLayersClient {
  /** The client's own events: open, close, reconnecting, error. */
  readonly lifecycle: Lifecycle;
  private readonly options: ResolvedClientOptions;
  private readonly events: LifecycleEmitter;
  private readonly dispatcher = new MessageDispatcher();
  private readonly queue: SendQueue;
  private readonly heartbeat: Heartbeat;
  private readonly positions = new Map<string, Offset>();
  private socket: WebSocketLike | undefined;
  private current: ClientState = "closed";
  /** Failed attempts since the last open connection. */
  private attempt = 0;
  private hasOpened = false;
  private reconnectTimer: Timer;
  private connectTimer: Timer;

  constructor(
    readonly url: string,
    options: ClientOptions = {},
  ) {
    this.options = resolveClientOptions(options);
    // A throwing "error" listener goes to the console: reporting it as an error event would loop.
    this.events = new LifecycleEmitter((error, name) =>
      name === "error" ? logError(error) : this.reportError(error, `A "${name}" listener threw`),
    );
    this.lifecycle = this.events;
    this.queue = new SendQueue(this.options.maxQueuedMessages, this.options.maxQueuedBytes);
    this.heartbeat = new Heartbeat(
      this.options.heartbeatIntervalMs,
      this.options.heartbeatTimeoutMs,
      () => this.socket?.send(HEARTBEAT_PING),
      () => this.abandon(`No frame arrived within ${this.options.heartbeatTimeoutMs} ms of a heartbeat ping`),
    );
    for (const [stream, offset] of Object.entries(this.options.initialOffsets)) this.positions.set(stream, offset);
    this.connect();
  }

  get state(): ClientState {
    return this.current;
  }

  /** Sends waiting for the next connection. */
  get queuedMessages(): number {
    return this.queue.length;
  }

  /** The last offset seen per group, for resume (a copy: keep it, e.g. in sessionStorage). */
  get offsets(): Record<string, Offset> {
    return Object.fromEntries(this.positions);
  }

  /** Calls `handler` with each server frame whose `type` is `type`; returns a function that removes it. */
  on<Message extends ServerMessage = ServerMessage>(type: string, handler: MessageHandler<Message>): () => void {
    this.dispatcher.add(type, handler as MessageHandler, false);
    return () => this.off(type, handler);
  }

  /** Calls `handler` with the next server frame of `type` only; returns a function that removes it. */
  once<Message extends ServerMessage = ServerMessage>(type: string, handler: MessageHandler<Message>): () => void {
    this.dispatcher.add(type, handler as MessageHandler, true);
    return () => this.off(type, handler);
  }

  /** Removes `handler` from frames of `type`. */
  off<Message extends ServerMessage = ServerMessage>(type: string, handler: MessageHandler<Message>): void {
    this.dispatcher.remove(type, handler as MessageHandler);
  }

  /** Calls `handler` with every decoded server frame, typed or not, after that type's handlers. */
  onAny(handler: AnyMessageHandler): () => void {
    this.dispatcher.addAny(handler);
    return () => this.offAny(handler);
  }

  offAny(handler: AnyMessageHandler): void {
    this.dispatcher.removeAny(handler);
  }

  /**
   * Sends `content` as a JSON text frame, or queues it while there is no open connection (flushed
   * in order on the next one). Throws QUEUE_FULL when the queue is at its bound, CLIENT_CLOSED
   * after close, INVALID_MESSAGE for what JSON cannot encode; nothing is queued then.
   */
  send(content: unknown): SendResult {
    if (this.current === "closed") {
      throw new ClientError("CLIENT_CLOSED", "The client is closed: call connect() to open it again before sending");
    }
    const text = encode(content);
    const socket = this.socket;
    if (this.current === "open" && socket !== undefined && socket.readyState === SOCKET_OPEN) {
      socket.send(text);
      return "sent";
    }
    this.queue.push(text, content);
    return "queued";
  }

  /** Opens the client again after it closed; does nothing while it is connecting, open or reconnecting. */
  connect(): void {
    if (this.current !== "closed") return;
    this.attempt = 0;
    this.hasOpened = false;
    this.openSocket(true);
  }

  /**
   * Closes the connection with `code` (1000, or 3000-4999 as browsers require) and stops
   * reconnecting. Queued sends are dropped and listed in the close event's `unsent`.
   */
  close(code = 1000, reason = ""): void {
    if (code !== 1000 && !(Number.isInteger(code) && code >= 3000 && code <= 4999)) {
      throw new ClientError("INVALID_ARGUMENT", `A client may close with 1000 or 3000-4999; got ${code}`);
    }
    if (utf8ByteLength(reason) > 123) {
      throw new ClientError("INVALID_ARGUMENT", "A close reason must fit in 123 UTF-8 bytes");
    }
    if (this.current === "closed") return;
    const socket = this.detach();
    try {
      socket?.close(code, reason);
    } catch {
      // The socket is discarded either way; the client is closed below whatever it did.
    }
    this.finish({ code, reason, wasClean: true });
  }

  private openSocket(fromCaller: boolean): void {
    this.current = "connecting";
    let socket: WebSocketLike;
    try {
      socket = new this.options.WebSocket(this.url, this.options.protocols);
    } catch (cause) {
      const error = new ClientError("INVALID_URL", `Cannot open a WebSocket to ${JSON.stringify(this.url)}`, { cause });
      this.current = "closed";
      if (fromCaller) throw error;
      this.emit("error", error);
      this.finish({ code: ABNORMAL_CLOSURE, reason: error.message, wasClean: false });
      return;
    }
    this.socket = socket;
    socket.onopen = () => this.opened();
    socket.onmessage = (event) => this.received(event.data);
    socket.onclose = (event) => this.closed({ code: event.code, reason: event.reason, wasClean: event.wasClean });
    socket.onerror = () => this.emit("error", new ClientError("SOCKET_ERROR", `The WebSocket to ${this.url} failed`));
    if (this.options.connectTimeoutMs > 0) {
      this.connectTimer = startTimer(
        () => this.abandon(`The connection did not open within ${this.options.connectTimeoutMs} ms`),
        this.options.connectTimeoutMs,
      );
    }
  }

  private opened(): void {
    const socket = this.socket as WebSocketLike;
    stopTimer(this.connectTimer);
    this.connectTimer = undefined;
    this.current = "open";
    this.attempt = 0;
    const reconnected = this.hasOpened;
    this.hasOpened = true;
    this.heartbeat.start();
    // The hello, then the queue, then whatever open listeners send: the order sends were made in.
    let hello: string | undefined;
    try {
      const content = this.options.hello({ offsets: this.offsets, reconnected });
      if (content !== undefined) hello = encode(content);
    } catch (error) {
      this.reportError(error, "The hello option failed");
    }
    if (hello !== undefined) socket.send(hello);
    for (const text of this.queue.drain()) socket.send(text);
    this.emit("open", { reconnected });
  }

  private received(data: unknown): void {
    this.heartbeat.seen();
    if (typeof data !== "string") {
      this.emit(
        "error",
        new ClientError("INVALID_FRAME", "The server sent a binary frame; this client takes JSON text"),
      );
      return;
    }
    if (data === HEARTBEAT_PONG) return;
    let content: unknown;
    try {
      content = JSON.parse(data);
    } catch (cause) {
      this.emit("error", new ClientError("INVALID_FRAME", "The server sent a text frame that is not JSON", { cause }));
      return;
    }
    const gap = gapGroupOf(content);
    if (gap !== undefined) {
      // The runtime's own notice, like the pong: a lifecycle event, not a message.
      this.emit("gap", { group: gap });
      return;
    }
    try {
      const position = this.options.readOffset(content);
      if (position !== undefined) this.positions.set(position.stream, position.offset);
    } catch (error) {
      this.reportError(error, "The readOffset option threw");
    }
    this.dispatcher.dispatch(content, (error) => this.reportError(error, "A message handler threw"));
  }

  /** The socket closed by itself (server, network, failed handshake): reconnect or finish. */
  private closed(close: { code: number; reason: string; wasClean: boolean }): void {
    this.detach();
    const { maxReconnectAttempts, shouldReconnect } = this.options;
    let again = this.attempt < maxReconnectAttempts;
    if (again) {
      try {
        again = shouldReconnect(close);
      } catch (error) {
        this.reportError(error, "The shouldReconnect option threw");
      }
    }
    if (!again) {
      this.finish(close);
      return;
    }
    const attempt = ++this.attempt;
    const delayMs = reconnectDelay(attempt, this.options);
    this.current = "reconnecting";
    this.reconnectTimer = startTimer(() => {
      this.reconnectTimer = undefined;
      this.openSocket(false);
    }, delayMs);
    this.emit("close", { ...close, willReconnect: true, unsent: [] });
    // A close listener may have called close(): then there is no reconnect to announce.
    if (this.current === "reconnecting" && this.attempt === attempt) this.emit("reconnecting", { attempt, delayMs });
  }

  /** Gives up on a socket the client judged dead (connect or heartbeat timeout) and treats it as lost. */
  private abandon(reason: string): void {
    const socket = this.socket;
    if (socket === undefined) return;
    this.detach();
    // Browsers have no terminate(); ws has, and close() there would wait 30 s for the dead peer.
    const terminate = (socket as { terminate?: unknown }).terminate;
    try {
      if (typeof terminate === "function") terminate.call(socket);
      else socket.close();
    } catch {
      // The socket is already being discarded; a failure to close it changes nothing here.
    }
    this.closed({ code: ABNORMAL_CLOSURE, reason, wasClean: false });
  }

  /** Stops listening to the current socket and every timer; returns the socket. */
  private detach(): WebSocketLike | undefined {
    const socket = this.socket;
    this.socket = undefined;
    this.heartbeat.stop();
    stopTimer(this.connectTimer);
    stopTimer(this.reconnectTimer);
    this.connectTimer = undefined;
    this.reconnectTimer = undefined;
    if (socket !== undefined) {
      // No-ops, not null: ws emits "error" while aborting a handshake and throws when nobody listens.
      socket.onopen = ignore;
      socket.onmessage = ignore;
      socket.onclose = ignore;
      socket.onerror = ignore;
    }
    return socket;
  }

  private finish(close: { code: number; reason: string; wasClean: boolean }): void {
    this.current = "closed";
    this.emit("close", { ...close, willReconnect: false, unsent: this.queue.clear() });
  }

  private emit<Name extends keyof LifecycleEventMap>(name: Name, event: LifecycleEventMap[Name]): void {
    this.events.emit(name, event);
  }

  /** An error from user code: to the "error" listeners, or the console when there are none (never silent). */
  private reportError(cause: unknown, what: string): void {
    const error = new ClientError(
      "HANDLER_FAILED",
      `${what}: ${cause instanceof Error ? cause.message : String(cause)}`,
      {
        cause,
      },
    );
    if (this.events.hasListeners("error")) this.emit("error", error);
    else logError(error);
  }
}

function encode(content: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(content);
  } catch (cause) {
    throw new ClientError("INVALID_MESSAGE", "The message cannot be encoded as JSON (a cycle or a BigInt?)", { cause });
  }
  if (text === undefined) {
    throw new ClientError("INVALID_MESSAGE", `A ${typeof content} cannot be sent as JSON: send an object`);
  }
  return text;
}
