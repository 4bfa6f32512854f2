/** A handler property whose parameter is checked both ways, so the DOM's and `ws`'s sockets both fit. */
type Handler<Event> = { bivariance(event: Event): void }["bivariance"];

/** A frame as the socket hands it over: a string for text, something else for binary. */
export interface SocketMessageEvent {
  readonly data: unknown;
}

/** How the socket says it closed. */
export interface SocketCloseEvent {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
}

/** The part of a WebSocket the client uses: the browser's, Node 22's and `ws`'s all have it. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: Handler<unknown> | null;
  onmessage: Handler<SocketMessageEvent> | null;
  onclose: Handler<SocketCloseEvent> | null;
  onerror: Handler<unknown> | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket class: `globalThis.WebSocket` in browsers, `WebSocket` from `ws` in Node 20. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** WebSocket.OPEN, spelled out because `ws` and browsers share the number but not a global. */
export const SOCKET_OPEN = 1;

/** What the client takes from its host, typed here so the package needs neither DOM nor Node types. */
interface Host {
  WebSocket?: WebSocketConstructor;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  console?: { error(...data: unknown[]): void };
}

const host = globalThis as unknown as Host;

/** A timer handle; opaque because browsers give numbers and Node gives objects. */
export type Timer = unknown;

export function startTimer(callback: () => void, ms: number): Timer {
  return host.setTimeout(callback, ms);
}

export function stopTimer(timer: Timer): void {
  if (timer !== undefined) host.clearTimeout(timer);
}

export function globalWebSocket(): WebSocketConstructor | undefined {
  return host.WebSocket;
}

/** Last resort for an error nobody listens for: the console, so it is never silent. */
export function logError(error: unknown): void {
  host.console?.error(error);
}
