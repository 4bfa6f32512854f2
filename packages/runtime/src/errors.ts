/** Codes of ConsumerError; docs/runtime.md says when each is raised. */
export type ConsumerErrorCode =
  /** A message's type names no method of the consumer. */
  | "NO_HANDLER"
  /** A message's type is not a string, or maps to a name that may not be a handler (leading "_"). */
  | "INVALID_MESSAGE_TYPE"
  /** A consumer used groups or its channel with no channel layer configured. */
  | "NO_CHANNEL_LAYER"
  /** An event sent at the wrong moment or with the wrong fields (send before accept, no data...). */
  | "INVALID_EVENT"
  /** A router was given a scope (type, channel) it has no application for. */
  | "NO_APPLICATION"
  /** A test communicator waited longer than its timeout. */
  | "TIMEOUT"
  /** A consumer failed and discarding its channel then failed too; `cause` is the first error. */
  | "DISCARD_FAILED";

/** The one error class the runtime raises for misuse; branch on `code`. */
export class ConsumerError extends Error {
  readonly code: ConsumerErrorCode;

  constructor(code: ConsumerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ConsumerError";
    this.code = code;
  }
}

/** Thrown by a handler (or anything it calls) to end the consumer cleanly; Channels' StopConsumer. */
export class StopConsumer extends Error {
  constructor() {
    super("The consumer stopped");
    this.name = "StopConsumer";
  }
}

/** Thrown from connect() to accept the socket; Channels' AcceptConnection. */
export class AcceptConnection extends Error {
  constructor() {
    super("Accept the connection");
    this.name = "AcceptConnection";
  }
}

/** Thrown from connect() to reject the socket (HTTP 403 at the handshake); Channels' DenyConnection. */
export class DenyConnection extends Error {
  constructor() {
    super("Deny the connection");
    this.name = "DenyConnection";
  }
}

/** Thrown by a nested URLRouter that matched nothing, so the router around it tries its next route. */
export class RouteNotFound extends Error {
  readonly path: string;

  constructor(path: string) {
    super(`No route found for path ${JSON.stringify(path)}`);
    this.name = "RouteNotFound";
    this.path = path;
  }
}
