import type { IncomingMessage, ServerResponse } from "node:http";
import type { ChannelLayer, Message } from "@channel-layers/core";

/** Channels' `url_route`: what the URL routers matched, outermost router first. */
export interface UrlRoute {
  /** Unnamed groups of regexp routes, in order. */
  args: string[];
  /** Named parts of the path: `<str:room_name>` or `(?<room_name>...)` give `kwargs.room_name`. */
  kwargs: Record<string, string>;
}

/**
 * One connection's description, as in ASGI and Channels: made by the server (or a test
 * communicator, or the worker), copied and extended by middleware, read by the consumer. Key
 * names are ASGI's so Channels code reads the same: `scope.url_route.kwargs.room_name`.
 */
export interface Scope {
  /** "websocket" for sockets, "channel" for worker consumers. */
  type: string;
  /** The decoded URL path, e.g. "/ws/chat/lobby/". */
  path: string;
  /** The path as sent, undecoded. */
  raw_path: string;
  /** The query string without "?", undecoded. */
  query_string: string;
  /** Request headers as [lower-case name, value] pairs, repeated names kept. */
  headers: [string, string][];
  /** Subprotocols the client offered, in its order. */
  subprotocols: string[];
  /** "ws" or "wss". */
  scheme: string;
  /** [address, port] of the client, when known. */
  client?: [string, number];
  /** [address, port] the server accepted on, when known. */
  server?: [string, number];
  /** Filled by URLRouter; empty until a router matched. */
  url_route: UrlRoute;
  /** The part of the path nested routers still have to match (set by URLRouter). */
  path_remaining?: string;
  /** Cookies, set by CookieMiddleware. */
  cookies?: Record<string, string>;
  /** The user, set by AuthMiddleware (null when the request is anonymous). */
  user?: unknown;
  /** For worker consumers: the channel they serve. */
  channel?: string;
  /** The layer consumers use unless their class names another; null for none. */
  channel_layer?: ChannelLayer | null;
  [key: string]: unknown;
}

/** A scope with every required field empty: what a consumer has before it runs, and a worker's base. */
export function emptyScope(type = ""): Scope {
  return {
    type,
    path: "",
    raw_path: "",
    query_string: "",
    headers: [],
    subprotocols: [],
    scheme: "",
    url_route: { args: [], kwargs: {} },
  };
}

/** The next event from the client side: websocket.connect / .receive / .disconnect (or a worker's message). */
export type Receive = () => Promise<Message>;
/** Hands an event to the client side: websocket.accept / .send / .close / .http.response.*. */
export type Send = (event: Message) => Promise<void>;

/**
 * An application: ASGI's `(scope, receive, send)` callable. Consumers, routers and middleware are
 * all applications, so they nest freely. It resolves when the connection is done with.
 */
export type ApplicationFunction = (scope: Scope, receive: Receive, send: Send) => Promise<void>;

/** A Node request listener (Express, a plain `(req, res)` handler) for the HTTP side. */
export type HttpHandler = (request: IncomingMessage, response: ServerResponse) => void;

/** An application, optionally carrying the HTTP handler ProtocolTypeRouter was given. */
export type Application = ApplicationFunction & {
  /** Set by ProtocolTypeRouter: where `serve()` sends plain HTTP requests. */
  http?: HttpHandler;
};

/** Anything that runs as an application: what a consumer class is turned into, and so on. */
export interface ConsumerClass {
  new (): { run(scope: Scope, receive: Receive, send: Send): Promise<void> };
  /** The application that runs one new instance of the class per connection. */
  asApplication(): Application;
}

/** What routes and servers accept: an application function, or a consumer class. */
export type ApplicationLike = Application | ConsumerClass;

function isConsumerClass(target: ApplicationLike): target is ConsumerClass {
  return typeof (target as Partial<ConsumerClass>).asApplication === "function";
}

/** Turns a consumer class into its application; an application function is returned as is. */
export function toApplication(target: ApplicationLike): Application {
  if (isConsumerClass(target)) return target.asApplication();
  if (typeof target === "function") return target;
  throw new TypeError(
    `Expected an application (scope, receive, send) => Promise<void> or a consumer class; got ${typeof target}`,
  );
}

/** A wrapper that adds something to the scope or checks it, then calls the inner application. */
export type Middleware = (inner: ApplicationLike) => Application;

/** The value of request header `name` (case-insensitive), the first one if repeated. */
export function getHeader(scope: Pick<Scope, "headers">, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of scope.headers) if (key === wanted) return value;
  return undefined;
}
