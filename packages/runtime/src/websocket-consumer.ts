import type { Message } from "@channel-layers/core";
import type { Receive, Scope, Send } from "./application.js";
import { AsyncConsumer } from "./consumer.js";
import { reserveMethodsOf } from "./dispatch.js";
import { markRuntimePrototype, warnAboutDjangoNames } from "./django-names.js";
import { AcceptConnection, ConsumerError, DenyConnection, StopConsumer } from "./errors.js";

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
  }

  /** Called when a client opens a socket; accepts it unless overridden (close() denies it: HTTP 403). */
  async connect(): Promise<void> {
    await this.accept();
  }

  /** Accepts the socket, optionally choosing one of the client's `scope.subprotocols`. */
  async accept(subprotocol?: string | null, headers?: [string, string][]): Promise<void> {
    await this.sendEvent({ type: "websocket.accept", subprotocol: subprotocol ?? null, headers: headers ?? [] });
  }

  /** Called on websocket.receive: hands the frame to receive(). */
  async websocket_receive(message: Message): Promise<void> {
    const text = message.text;
    await this.receive(typeof text === "string" ? text : (message.bytes as Uint8Array));
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
    await this.receiveJson(content);
  }

  /** Called with each decoded JSON frame. */
  async receiveJson(_content: unknown): Promise<void> {}

  /** Sends `content` as a JSON text frame; `close` then closes the socket (true or a code). */
  sendJson(content: unknown, close?: boolean | number): Promise<void> {
    try {
      return this.send((this.constructor as typeof JsonWebsocketConsumer).encodeJson(content), close);
    } catch (error) {
      return Promise.reject(error);
    }
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
