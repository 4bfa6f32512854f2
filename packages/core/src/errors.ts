/** Every code a ChannelLayerError can carry; docs/errors.md says when each is raised. */
export type ChannelLayerErrorCode =
  | "CHANNEL_FULL"
  | "INVALID_NAME"
  | "INVALID_MESSAGE"
  | "INVALID_OPTIONS"
  | "LAYER_CLOSED"
  | "MESSAGE_TOO_LARGE"
  | "BACKEND_UNAVAILABLE"
  | "CHANNEL_DISCARDED"
  | "NOT_LOCAL_CHANNEL"
  /** A presence key, presence meta or history offset that is not what the call takes. */
  | "INVALID_ARGUMENT"
  /** A call of an extension the layer does not list, or groupHistory() of a group that keeps none. */
  | "UNSUPPORTED"
  /** Settings name a backend whose package is not installed (raised by @channel-layers/runtime). */
  | "BACKEND_NOT_INSTALLED";

/** The one base class of every error a channel layer rejects with. Branch on `code`. */
export class ChannelLayerError extends Error {
  readonly code: ChannelLayerErrorCode;

  constructor(code: ChannelLayerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The channel holds `capacity` messages already; Channels' `ChannelFull`. */
export class ChannelFull extends ChannelLayerError {
  readonly channel: string;

  constructor(channel: string, capacity: number) {
    super(
      "CHANNEL_FULL",
      `Channel ${channel} is full (capacity ${capacity}): receive from it faster, or raise capacity / channelCapacity`,
    );
    this.channel = channel;
  }
}

export class InvalidName extends ChannelLayerError {
  constructor(message: string) {
    super("INVALID_NAME", message);
  }
}

export class InvalidMessage extends ChannelLayerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("INVALID_MESSAGE", message, options);
  }
}

export class InvalidOptions extends ChannelLayerError {
  constructor(message: string) {
    super("INVALID_OPTIONS", message);
  }
}

export class InvalidArgument extends ChannelLayerError {
  constructor(message: string) {
    super("INVALID_ARGUMENT", message);
  }
}

export class Unsupported extends ChannelLayerError {
  constructor(message: string) {
    super("UNSUPPORTED", message);
  }
}

export class LayerClosed extends ChannelLayerError {
  constructor() {
    super("LAYER_CLOSED", "The channel layer is closed: create a new layer to go on");
  }
}

export class MessageTooLarge extends ChannelLayerError {
  readonly size: number;
  readonly maxMessageSize: number;

  constructor(size: number, maxMessageSize: number) {
    super(
      "MESSAGE_TOO_LARGE",
      `Message is ${size} bytes encoded, above maxMessageSize ${maxMessageSize}: send a reference to the data instead, or raise maxMessageSize`,
    );
    this.size = size;
    this.maxMessageSize = maxMessageSize;
  }
}

export class BackendUnavailable extends ChannelLayerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("BACKEND_UNAVAILABLE", message, options);
  }
}

export class ChannelDiscarded extends ChannelLayerError {
  constructor(channel: string) {
    super("CHANNEL_DISCARDED", `Channel ${channel} was discarded while this receive waited on it`);
  }
}

/** Rejection of a receive whose AbortSignal fired; the same shape as Node's own AbortError. */
export class AbortError extends Error {
  readonly code = "ABORT_ERR";

  constructor(reason?: unknown) {
    super("The receive was aborted", { cause: reason });
    this.name = "AbortError";
  }
}
