import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import type { ChannelLayer } from "@channel-layers/core";
import { type WebSocket, WebSocketServer } from "ws";
import { type Application, type ApplicationLike, toApplication } from "../application.js";
import { getChannelLayer } from "../settings/registry.js";
import { DEFAULT_SHUTDOWN_SIGNALS, joinShutdown } from "../shutdown/coordinator.js";
import { Connection, type ConnectionHost } from "./connection.js";
import {
  type ResolvedServerOptions,
  resolveServerOptions,
  type ServeOptions,
  type WebsocketServerOptions,
} from "./options.js";
import { buildScope, invalidHandshake } from "./scope.js";

/** Where a request's chosen subprotocol and extra headers wait for ws's hooks during its upgrade. */
interface PendingUpgrade {
  subprotocol: string | null;
  headers: [string, string][];
}

/**
 * Serves an application's WebSockets on a Node `http.Server` (made by `serve()`, or yours via
 * `attach()`): every upgrade request becomes a Connection running the application.
 */
export class WebsocketServer implements ConnectionHost {
  readonly options: ResolvedServerOptions;
  /** The layer consumers get; undefined when the server was given null. */
  readonly channelLayer: ChannelLayer | undefined;
  private readonly application: Application;
  private readonly connections = new Set<Connection>();
  private readonly wss: WebSocketServer;
  private readonly pending = new WeakMap<IncomingMessage, PendingUpgrade>();
  private pingTimer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    readonly httpServer: Server,
    application: ApplicationLike,
    options: WebsocketServerOptions,
    /** Whether close() also closes the HTTP server (serve() made it); onClose tells the shutdown coordinator. */
    private readonly owns: { httpServer: boolean; onClose?: () => void },
  ) {
    this.options = resolveServerOptions(options);
    this.application = toApplication(application);
    this.channelLayer = options.channelLayer === null ? undefined : options.channelLayer;
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: this.options.maxFrameBytes,
      handleProtocols: (_offered, request) => this.pending.get(request)?.subprotocol ?? false,
    });
    this.wss.on("headers", (headers, request) => {
      for (const [name, value] of this.pending.get(request)?.headers ?? []) headers.push(`${name}: ${value}`);
    });
    httpServer.on("upgrade", this.onUpgrade);
    if (this.options.pingIntervalMs > 0) {
      this.pingTimer = setInterval(() => {
        for (const connection of this.connections) connection.ping();
      }, this.options.pingIntervalMs);
      this.pingTimer.unref();
    }
  }

  /** Connections open or still finishing. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** The port the HTTP server listens on (after listen). */
  get port(): number {
    return (this.httpServer.address() as AddressInfo | null)?.port ?? 0;
  }

  /** `http://host:port` of the HTTP server (after listen). */
  get url(): string {
    const address = this.httpServer.address() as AddressInfo | null;
    if (address === null) return "";
    const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}`;
  }

  /**
   * Stops taking sockets and closes every open one with 1001; each consumer gets its disconnect
   * at once (leaving its groups, discarding its channel). Waits for them (up to
   * shutdownTimeoutMs), then closes the HTTP server if serve() made it. The layer stays open:
   * the process's shutdown closes it. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.httpServer.off("upgrade", this.onUpgrade);
    clearInterval(this.pingTimer);
    this.owns.onClose?.();
    const httpClosed = this.owns.httpServer ? this.closeHttpServer() : Promise.resolve();
    const connections = [...this.connections];
    for (const connection of connections) connection.shutdown();
    await waitAtMost(Promise.all(connections.map((connection) => connection.done)), this.options.shutdownTimeoutMs);
    // Clients had their chance to answer the close frame while consumers finished.
    for (const connection of this.connections) connection.terminate();
    if (this.owns.httpServer) this.httpServer.closeAllConnections();
    await httpClosed;
    this.wss.close();
  }

  private closeHttpServer(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.httpServer.listening) return resolve();
      this.httpServer.close(() => resolve());
      this.httpServer.closeIdleConnections();
    });
  }

  private readonly onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const problem = invalidHandshake(request);
    if (problem !== undefined || this.closing !== undefined) {
      const status = problem === undefined ? 503 : 400;
      const body = problem ?? "The server is shutting down";
      socket.on("error", () => undefined);
      socket.end(
        `HTTP/1.1 ${status} ${status === 400 ? "Bad Request" : "Service Unavailable"}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      return;
    }
    const connection = new Connection(this, buildScope(request, this.channelLayer ?? null), request, socket, head);
    this.connections.add(connection);
    connection.start(this.application);
  };

  upgrade(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    subprotocol: string | null,
    headers: [string, string][],
    opened: (ws: WebSocket) => void,
  ): void {
    this.pending.set(request, { subprotocol, headers });
    try {
      this.wss.handleUpgrade(request, socket, head, opened);
    } finally {
      this.pending.delete(request);
    }
  }

  forget(connection: Connection): void {
    this.connections.delete(connection);
  }
}

async function waitAtMost(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/**
 * Serves `application`'s WebSockets on an existing HTTP server (plain Node, Express's
 * `app.listen()` result, Fastify's `fastify.server`): its HTTP side stays yours. Without
 * `channelLayer` it uses `getChannelLayer()`. It joins the process's shutdown without listening
 * for signals: close your HTTP server in an `onShutdown()` hook. close() leaves the server running.
 */
export async function attach(
  httpServer: Server,
  application: ApplicationLike,
  options: WebsocketServerOptions = {},
): Promise<WebsocketServer> {
  const channelLayer = options.channelLayer === undefined ? await getChannelLayer() : options.channelLayer;
  let leaveShutdown: () => void = () => undefined;
  const server = new WebsocketServer(
    httpServer,
    application,
    { ...options, channelLayer },
    { httpServer: false, onClose: () => leaveShutdown() },
  );
  leaveShutdown = joinShutdown({ stop: () => server.close(), channelLayer: options.channelLayer ?? undefined }, []);
  return server;
}

function notFound(_request: IncomingMessage, response: ServerResponse): void {
  response.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
  response.end("Not found: this server takes WebSocket connections only");
}

/**
 * Listens on `host:port` (default 127.0.0.1:8000) and serves `application`: WebSockets through
 * it, plain HTTP through its `http` handler (ProtocolTypeRouter's). Without `channelLayer` it
 * uses `getChannelLayer()`. Resolves once listening. SIGTERM and SIGINT start the process's
 * shutdown (see `shutdown()`): sockets closed with 1001, disconnects run, layers closed.
 */
export async function serve(application: ApplicationLike, options: ServeOptions = {}): Promise<WebsocketServer> {
  const { host = "127.0.0.1", port = 8000, shutdownSignals = DEFAULT_SHUTDOWN_SIGNALS, ...serverOptions } = options;
  const resolved = toApplication(application);
  const channelLayer = serverOptions.channelLayer === undefined ? await getChannelLayer() : serverOptions.channelLayer;
  const httpServer = createServer(resolved.http ?? notFound);
  let leaveShutdown: () => void = () => undefined;
  const server = new WebsocketServer(
    httpServer,
    resolved,
    { ...serverOptions, channelLayer },
    { httpServer: true, onClose: () => leaveShutdown() },
  );
  await new Promise<void>((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(port, host, () => {
      httpServer.off("error", reject);
      resolve();
    });
  }).catch(async (error: unknown) => {
    await server.close();
    throw error;
  });
  leaveShutdown = joinShutdown(
    { stop: () => server.close(), channelLayer: serverOptions.channelLayer ?? undefined },
    shutdownSignals,
  );
  return server;
}
