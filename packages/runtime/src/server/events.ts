import type { Scope } from "../application.js";
import type { DropReason } from "../runtime-context.js";

/** Why a connection never became a WebSocket; `onReject` gets one, `stats().rejected` counts them. */
export type RejectReason =
  /** Not a valid WebSocket upgrade request (400). */
  | "malformed-request"
  /** The server is closing (503). */
  | "shutting-down"
  /** maxConnections were open already (503). */
  | "too-many-connections"
  /** No complete request within handshakeTimeoutMs (408), or no answer from the application (503). */
  | "handshake-timeout"
  /** No route for the path, and no other upgrade listener on the server (404). */
  | "no-route"
  /** The application closed before accepting or sent a denial response (its status: 403, 404...). */
  | "denied"
  /** The application ended on a name the layer refuses, e.g. a room name from the URL (400). */
  | "invalid-name"
  /** The application failed before accepting (500). */
  | "application-error";

/** Why an accepted WebSocket ended; `onDisconnect` gets one. */
export type DisconnectReason =
  /** The client sent a close frame. */
  | "client-closed"
  /** The connection ended without a close frame (network, process gone). */
  | "connection-lost"
  /** The application closed the socket or ended. */
  | "application-closed"
  /** The application failed (closed with 1011). */
  | "application-error"
  /** The application ended on a name the layer refuses (closed with 1008). */
  | "invalid-name"
  /** The server shut down (1001). */
  | "shutdown"
  /** The server dropped the client: see DropReason. */
  | Extract<DropReason, "slow-reader" | "too-much-input" | "ping-timeout" | "message-too-big" | "protocol-error">;

/** What `onConnect` gets once the handshake completed (101 sent). */
export interface ConnectEvent {
  scope: Scope;
}

/** What `onDisconnect` gets once an accepted socket has closed. */
export interface DisconnectEvent {
  scope: Scope;
  /** The close code the application's disconnect sees (1006 without a close frame). */
  code: number;
  reason: DisconnectReason;
}

/** What `onReject` gets when a connection was answered with an HTTP error instead of a WebSocket. */
export interface RejectEvent {
  reason: RejectReason;
  /** The HTTP status sent (0 when the socket was closed without one). */
  status: number;
  /** The request's scope; undefined when no complete request arrived. */
  scope: Scope | undefined;
  /** The client's address, when known. */
  remoteAddress: string | undefined;
}
