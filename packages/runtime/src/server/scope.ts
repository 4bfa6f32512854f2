import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";
import type { ChannelLayer } from "@channel-layers/core";
import type { Scope } from "../application.js";

/** The ASGI-style scope of a WebSocket handshake request. */
export function buildScope(request: IncomingMessage, layer: ChannelLayer | null): Scope {
  const target = request.url ?? "/";
  const query = target.indexOf("?");
  const rawPath = query === -1 ? target : target.slice(0, query);
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    path = rawPath;
  }
  const headers: [string, string][] = [];
  const raw = request.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.push([(raw[i] as string).toLowerCase(), raw[i + 1] as string]);
  const offered = request.headers["sec-websocket-protocol"];
  const socket = request.socket;
  const scope: Scope = {
    type: "websocket",
    path,
    raw_path: rawPath,
    query_string: query === -1 ? "" : target.slice(query + 1),
    headers,
    subprotocols: offered ? offered.split(",").map((protocol) => protocol.trim()) : [],
    scheme: (socket as TLSSocket).encrypted ? "wss" : "ws",
    http_version: request.httpVersion,
    url_route: { args: [], kwargs: {} },
    channel_layer: layer,
  };
  if (socket.remoteAddress !== undefined) scope.client = [socket.remoteAddress, socket.remotePort ?? 0];
  if (socket.localAddress !== undefined) scope.server = [socket.localAddress, socket.localPort ?? 0];
  return scope;
}

const KEY = /^[+/0-9A-Za-z]{22}==$/;

/** Why a request cannot become a WebSocket (checked before any application code runs), or undefined. */
export function invalidHandshake(request: IncomingMessage): string | undefined {
  if (request.method !== "GET") return "WebSocket handshakes use GET";
  if (request.headers.upgrade?.toLowerCase() !== "websocket") return "Upgrade header is not websocket";
  const key = request.headers["sec-websocket-key"];
  if (key === undefined || !KEY.test(key)) return "Missing or invalid Sec-WebSocket-Key";
  const version = request.headers["sec-websocket-version"];
  if (version !== "13" && version !== "8") return "Unsupported Sec-WebSocket-Version";
  return undefined;
}
