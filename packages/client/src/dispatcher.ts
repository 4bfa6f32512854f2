/** A frame from the server with a string `type`, as the runtime's JSON consumers send them. */
export interface ServerMessage {
  type: string;
  [key: string]: unknown;
}

/** Runs for each message of one type; `Message` is the shape you declare for that type. */
export type MessageHandler<Message extends ServerMessage = ServerMessage> = (message: Message) => void;

/** Runs for every decoded frame, whatever its shape (the tutorial's `{message}` frames have no type). */
export type AnyMessageHandler = (content: unknown) => void;

interface Registration {
  readonly handler: MessageHandler;
  readonly once: boolean;
}

/** Calls handlers by a frame's `type`, as the server's consumers call methods by a message's type. */
export class MessageDispatcher {
  private readonly byType = new Map<string, Registration[]>();
  private readonly anyHandlers: AnyMessageHandler[] = [];

  add(type: string, handler: MessageHandler, once: boolean): void {
    const registrations = this.byType.get(type) ?? [];
    registrations.push({ handler, once });
    this.byType.set(type, registrations);
  }

  /** Removes every registration of `handler` for `type` (added with on or once). */
  remove(type: string, handler: MessageHandler): void {
    const remaining = (this.byType.get(type) ?? []).filter((registration) => registration.handler !== handler);
    if (remaining.length > 0) this.byType.set(type, remaining);
    else this.byType.delete(type);
  }

  addAny(handler: AnyMessageHandler): void {
    this.anyHandlers.push(handler);
  }

  removeAny(handler: AnyMessageHandler): void {
    const index = this.anyHandlers.indexOf(handler);
    if (index >= 0) this.anyHandlers.splice(index, 1);
  }

  /**
   * Hands `content` to the handlers of its type, then to the catch-all handlers. A handler that
   * throws is reported through `onError` and the others still run: one bug does not stop the rest.
   */
  dispatch(content: unknown, onError: (error: unknown) => void): void {
    const type = typeOf(content);
    const registrations = type === undefined ? undefined : this.byType.get(type);
    if (type !== undefined && registrations !== undefined) {
      // A once handler goes before it runs, so a send from inside it cannot make it run twice.
      if (registrations.some((registration) => registration.once)) {
        const remaining = registrations.filter((registration) => !registration.once);
        if (remaining.length > 0) this.byType.set(type, remaining);
        else this.byType.delete(type);
      }
      for (const { handler } of registrations) run(() => handler(content as ServerMessage), onError);
    }
    for (const handler of [...this.anyHandlers]) run(() => handler(content), onError);
  }
}

function typeOf(content: unknown): string | undefined {
  if (typeof content !== "object" || content === null) return undefined;
  const type = (content as { type?: unknown }).type;
  return typeof type === "string" ? type : undefined;
}

function run(call: () => void, onError: (error: unknown) => void): void {
  try {
    call();
  } catch (error) {
    onError(error);
  }
}
