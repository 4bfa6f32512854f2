import { type HistoryOffset, hasHistory, type Message, positionOf } from "@channel-layers/core";
import type { Receive, Scope, Send } from "./application.js";
import { AsyncConsumer } from "./consumer.js";
import { reserveMethodsOf } from "./dispatch.js";
import { markRuntimePrototype, warnAboutDjangoNames } from "./django-names.js";
import { AcceptConnection, ConsumerError, DenyConnection, StopConsumer } from "./errors.js";
import { GAP_TYPE, RESUME_TYPE, ResumeState, resumeOffsetsOf } from "./resume.js";

/** What a client frame carries: a string for a text frame, bytes for a binary one. */
export type WebsocketData = string | Uint8Array;

/** Close codes the runtime uses (RFC 6455 section 7.4.1). */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  unsupportedData: 1003,
  abnormal: 1006,
  invalidPayload: 1007,
  policyViolation: 1008,
  messageTooBig: 1009,
  internalError: 1011,
} as const;

/**
 * Channels' (Async)WebsocketConsumer. Override `connect`, `receive`, `disconnect` and add a
 * method per message type the layer brings (`chat_message` for "chat.message"). Every method may
 * be async; the runtime awaits each before taking the next message.
 */
export class WebsocketConsumer extends AsyncConsumer {
  /**
   * Groups every instance joins on connect and leaves on disconnect. An instance field
   * `groups = [...]` (Channels' habit) works the same and wins over the static one.
   */
  static groups: readonly string[] = [];

  /**
   * Milliseconds a consumer in a history group leaves its channel's messages in the layer after
   * accepting, waiting for the client's resume frame (the first frame @channel-layers/client sends),
   * so replayed messages come before newer ones. Any other first frame ends the wait at once; a
   * client that sends nothing gets its first messages this much later. 0 does not wait.
   */
  static resumeWaitMs = 500;

  private accepted = false;
  private resumeState: ResumeState | undefined;
  private endResumeWait: (() => void) | undefined;

  override async run(scope: Scope, receive: Receive, send: Send): Promise<void> {
    warnAboutDjangoNames(this, this instanceof JsonWebsocketConsumer);
    await super.run(scope, receive, send);
  }

  /** The groups this instance joins: an instance field `groups`, else the class's static one. */
  private joinedGroups(): readonly string[] {
    const own = (this as { groups?: unknown }).groups;
    if (Array.isArray(own) && own.every((group) => typeof group === "string")) return own;
    return (this.constructor as typeof WebsocketConsumer).groups;
  }

  /** Called on websocket.connect: joins the groups, then runs connect(). */
  async websocket_connect(_message: Message): Promise<void> {
    for (const group of this.joinedGroups()) await this.groupAdd(group);
    try {
      await this.connect();
    } catch (error) {
      if (error instanceof AcceptConnection) await this.accept();
      else if (error instanceof DenyConnection) await this.close();
      else throw error;
    }
    this.waitForResume();
  }

  /** Adds this consumer's channel to `group`; in a history group, replays what the client's resume frame asked for. */
  override async groupAdd(group: string): Promise<void> {
    await super.groupAdd(group);
    const after = this.resume()?.joined(group);
    if (after !== undefined) await this.replay(group, after);
  }

  override async groupDiscard(group: string): Promise<void> {
    await super.groupDiscard(group);
    this.resumeState?.left(group);
  }

  /**
   * The group and offset of the message from the layer being handled now, `{}` when it has none:
   * spread it into what you send (`{ message, ...this.position() }`) so the client's offsets advance.
   */
  position(): { group?: string; offset?: HistoryOffset } {
    const message = this.currentLayerMessage;
    return (message === undefined ? undefined : positionOf(message)) ?? {};
  }

  /** Forwards a presence diff to the client as a JSON text frame `{ type: "presence.diff", group, joins, leaves }`. */
  override async presence_diff(message: Message): Promise<void> {
    await this.send(JSON.stringify(message));
  }

  /** Sends the client `{ type: "presence.state", group, state }`, the list a client's PresenceState starts from. */
  async sendPresenceState(group: string): Promise<void> {
    await this.send(JSON.stringify({ type: "presence.state", group, state: await this.presence.list(group) }));
  }

  /**
   * Called when the client resumes `group` from an offset its history no longer reaches (trimmed
   * by maxLength or maxAgeMs, or from before a restart); the kept messages are replayed next.
   * Default: sends `{ type: "channel_layers.gap", group }`, which the client reports as a `gap` event.
   */
  async historyGap(group: string): Promise<void> {
    await this.send(JSON.stringify({ type: GAP_TYPE, group }));
  }

  /**
   * Takes the client's resume frame: replays each joined group's messages after the client's
   * offset through the handlers, in order; offsets for groups not joined yet wait for groupAdd.
   */
  protected async handleResumeFrame(offsets: unknown): Promise<void> {
    const state = this.resume();
    if (state !== undefined) for (const [group, after] of state.takeOffsets(offsets)) await this.replay(group, after);
    this.endResumeWait?.();
  }

  protected override isDuplicateFromLayer(message: Message): boolean {
    return this.resumeState?.isDuplicate(message) ?? false;
  }

  /** The resume bookkeeping, made on first need; undefined when the layer keeps no history. */
  private resume(): ResumeState | undefined {
    if (this.resumeState === undefined && this.channelLayer !== undefined && hasHistory(this.channelLayer)) {
      this.resumeState = new ResumeState(this.channelLayer);
    }
    return this.resumeState;
  }

  private async replay(group: string, after: HistoryOffset): Promise<void> {
    const state = this.resumeState as ResumeState;
    const history = await state.layer.groupHistory(group, { after });
    if (!history.complete) await this.historyGap(group);
    const handledLive = state.startReplay(group);
    for (const { offset, message } of history.messages) {
      if (handledLive.has(offset)) continue;
      state.replayed(group, offset);
      await this.dispatchFromLayer(message);
    }
  }

  /** After accepting, in a history group: hold the channel's messages until the client's first frame (or resumeWaitMs). */
  private waitForResume(): void {
    const waitMs = (this.constructor as typeof WebsocketConsumer).resumeWaitMs;
    if (!this.accepted || waitMs <= 0 || this.resumeState?.inHistoryGroups !== true) return;
    const release = this.holdLayerMessages();
    const timer = setTimeout(release, waitMs);
    const end = () => {
      clearTimeout(timer);
      release();
      this.endResumeWait = undefined;
    };
    this.endResumeWait = end;
    this.signal.addEventListener("abort", end, { once: true });
  }

  /** Called when a client opens a socket; accepts it unless overridden (close() denies it: HTTP 403). */
  async connect(): Promise<void> {
    await this.accept();
  }

  /** Accepts the socket, optionally choosing one of the client's `scope.subprotocols`. */
  async accept(subprotocol?: string | null, headers?: [string, string][]): Promise<void> {
    await this.sendEvent({ type: "websocket.accept", subprotocol: subprotocol ?? null, headers: headers ?? [] });
    this.accepted = true;
  }

  /**
   * Called on websocket.receive: takes the client's resume frame (`channel_layers.resume`, never
   * passed on), and hands any other frame to receive().
   */
  async websocket_receive(message: Message): Promise<void> {
    const text = message.text;
    if (typeof text === "string") {
      const offsets = resumeOffsetsOf(text);
      if (offsets !== undefined) return this.handleResumeFrame(offsets);
    }
    await this.receive(typeof text === "string" ? text : (message.bytes as Uint8Array));
    // The client's first frame was not a resume frame: none is coming.
    this.resumeState?.noResume();
    this.endResumeWait?.();
  }

  /** Called with each frame from the client: a string (text frame) or bytes (binary frame). */
  async receive(_data: WebsocketData): Promise<void> {}

  /** Sends a text (string) or binary (bytes) frame; `close` then closes the socket (true or a code). */
  send(data: WebsocketData, close?: boolean | number): Promise<void> {
    // Not async: a handler's `await this.send(...)` then waits on the connection's own promise.
    let sent: Promise<void>;
    if (typeof data === "string") sent = this.sendEvent({ type: "websocket.send", text: data });
    else if (data instanceof Uint8Array) sent = this.sendEvent({ type: "websocket.send", bytes: data });
    else {
      return Promise.reject(
        new ConsumerError("INVALID_EVENT", `send() takes a string or a Uint8Array; got ${typeof data}`),
      );
    }
    return close ? sent.then(() => this.close(close === true ? undefined : close)) : sent;
  }

  /** Closes the socket from the server end (before accept: rejects the handshake with HTTP 403). */
  async close(code?: number, reason?: string): Promise<void> {
    const event: Message = { type: "websocket.close" };
    if (code !== undefined) event.code = code;
    if (reason !== undefined) event.reason = reason;
    await this.sendEvent(event);
  }

  /** Called on websocket.disconnect: leaves the groups, runs disconnect(code), ends the consumer. */
  async websocket_disconnect(message: Message): Promise<void> {
    for (const group of this.joinedGroups()) await this.groupDiscard(group);
    await this.disconnect(typeof message.code === "number" ? message.code : CloseCode.abnormal);
    throw new StopConsumer();
  }

  /** Called once the socket is closed (either end), with its close code. */
  async disconnect(_code: number): Promise<void> {}
}

/**
 * Channels' (Async)JsonWebsocketConsumer: text frames are parsed as JSON and handed to
 * receiveJson(). A frame that is not valid JSON closes that socket with 1007, a binary frame with
 * 1003: a client's bad input never throws into the server.
 */
export class JsonWebsocketConsumer extends WebsocketConsumer {
  override async receive(data: WebsocketData): Promise<void> {
    if (typeof data !== "string") {
      await this.close(CloseCode.unsupportedData, "Binary frames are not accepted here: send JSON text");
      return;
    }
    let content: unknown;
    try {
      content = (this.constructor as typeof JsonWebsocketConsumer).decodeJson(data);
    } catch {
      await this.close(CloseCode.invalidPayload, "Invalid JSON");
      return;
    }
    const resume = content as { type?: unknown; offsets?: unknown } | null;
    if (typeof resume === "object" && resume?.type === RESUME_TYPE) return this.handleResumeFrame(resume.offsets ?? {});
    await this.receiveJson(content);
  }

  /** Called with each decoded JSON frame. */
  async receiveJson(_content: unknown): Promise<void> {}

  /**
   * Whether sendJson adds `group` and `offset` (of the history message being handled) to the
   * objects it sends that have neither, so the client's offsets advance for resume. Default false:
   * spread `this.position()` yourself, or set true.
   */
  static includePositions = false;

  /** Sends `content` as a JSON text frame; `close` then closes the socket (true or a code). */
  sendJson(content: unknown, close?: boolean | number): Promise<void> {
    try {
      const consumerClass = this.constructor as typeof JsonWebsocketConsumer;
      const framed = consumerClass.includePositions ? this.withPosition(content) : content;
      return this.send(consumerClass.encodeJson(framed), close);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private withPosition(content: unknown): unknown {
    if (typeof content !== "object" || content === null || Array.isArray(content)) return content;
    if ("group" in content || "offset" in content) return content;
    const position = this.position();
    return position.group === undefined ? content : { ...content, ...position };
  }

  /** Parses a text frame; override for another decoder. Throwing closes the socket with 1007. */
  static decodeJson(text: string): unknown {
    return JSON.parse(text);
  }

  /** Encodes outgoing content; override for another encoder. */
  static encodeJson(content: unknown): string {
    return JSON.stringify(content);
  }
}

reserveMethodsOf(WebsocketConsumer.prototype);
reserveMethodsOf(JsonWebsocketConsumer.prototype);
markRuntimePrototype(AsyncConsumer.prototype);
markRuntimePrototype(WebsocketConsumer.prototype);
markRuntimePrototype(JsonWebsocketConsumer.prototype);
