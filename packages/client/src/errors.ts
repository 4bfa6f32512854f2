/** What went wrong, as a stable string to branch on (listed in docs/client.md). */
export type ClientErrorCode =
  | "QUEUE_FULL"
  | "CLIENT_CLOSED"
  | "INVALID_MESSAGE"
  | "INVALID_OPTIONS"
  | "INVALID_ARGUMENT"
  | "INVALID_URL"
  | "NO_WEBSOCKET"
  | "INVALID_FRAME"
  | "HANDLER_FAILED"
  | "SOCKET_ERROR";

/** Every error the client throws or reports: `code` says which, `cause` keeps the original. */
export class ClientError extends Error {
  override readonly name = "ClientError";

  constructor(
    readonly code: ClientErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
