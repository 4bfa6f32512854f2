import { ConsumerError } from "./errors.js";

type Handler = (message: never) => unknown;

/**
 * Names a message type can never reach: the consumer's own API (send, close, groupAdd...) and
 * Object's methods. Channels lets `{"type": "close"}` call `close(message)`; a message from the
 * layer or a client choosing which consumer method runs is a hole, so only handlers run.
 */
const reserved = new Set<string>(Object.getOwnPropertyNames(Object.prototype));

/** Handlers the base classes define with a default body, which a consumer may override. */
const DEFAULT_HANDLERS = new Set(["presence_diff"]);

/** Adds every method of a runtime base class (except `websocket_*` and default handlers) to the reserved names. */
export function reserveMethodsOf(prototype: object): void {
  for (const name of Object.getOwnPropertyNames(prototype)) {
    if (!name.startsWith("websocket_") && !DEFAULT_HANDLERS.has(name)) reserved.add(name);
  }
}

/** Whether `type` is one of the server's own events (websocket.*, http.*), which only a client connection produces. */
export function isTransportEvent(type: unknown): boolean {
  return typeof type === "string" && (type.startsWith("websocket.") || type.startsWith("http."));
}

// type -> method name -> handler, per consumer prototype: dispatch runs on every message.
const handlerCache = new WeakMap<object, Map<string, Handler>>();

/** Channels' get_handler_name: "chat.message" runs chat_message; a leading underscore is refused. */
export function handlerName(type: unknown): string {
  if (typeof type !== "string" || type.length === 0) {
    throw new ConsumerError("INVALID_MESSAGE_TYPE", `A message needs a non-empty string "type"; got ${typeof type}`);
  }
  const name = type.replaceAll(".", "_");
  if (name.startsWith("_")) {
    throw new ConsumerError(
      "INVALID_MESSAGE_TYPE",
      `Message type ${JSON.stringify(type)} maps to ${name}, and names with a leading underscore are never handlers`,
    );
  }
  return name;
}

/** The method of `consumer` that handles messages of `type`, or a ConsumerError saying what to define. */
export function handlerFor(consumer: object, type: unknown): Handler {
  const prototype = Object.getPrototypeOf(consumer) as object;
  let handlers = handlerCache.get(prototype);
  if (handlers === undefined) {
    handlers = new Map();
    handlerCache.set(prototype, handlers);
  }
  const cached = handlers.get(type as string);
  if (cached !== undefined) return cached;
  const name = handlerName(type);
  const candidate = reserved.has(name) ? undefined : (consumer as Record<string, unknown>)[name];
  if (typeof candidate !== "function") {
    const className = consumer.constructor.name || "the consumer";
    throw new ConsumerError(
      "NO_HANDLER",
      reserved.has(name)
        ? `Message type ${JSON.stringify(type)} maps to ${name}, which is part of the consumer API, not a handler: rename the type`
        : `No handler for message type ${JSON.stringify(type)}: define ${name}(message) on ${className}`,
    );
  }
  handlers.set(type as string, candidate as Handler);
  return candidate as Handler;
}
