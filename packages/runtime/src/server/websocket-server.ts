import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { ChannelLayer } from "@channel-layers/core";
import { RateLimitedLog } from "@channel-layers/core/backend";
import { type WebSocket, WebSocketServer } from "ws";
import { type Application, type ApplicationLike, type Scope, toApplication } from "../application.js";
import { type RuntimeContext, setRuntimeContext } from "../runtime-context.js";
import { getChannelLayer } from "../settings/registry.js";
import { DEFAULT_SHUTDOWN_SIGNALS, joinShutdown } from "../shutdown/coordinator.js";
import { Connection, type ConnectionHost } from "./connection.js";
import type { DisconnectReason, RejectReason } from "./events.js";
import { FrameWriter } from "./frame-writer.js";
import { KeepaliveSchedule } from "./keepalive.js";
import {
  type ResolvedServerOptions,
  resolveServerOptions,
  type ServeOptions,
  type WebsocketServerOptions,
} from "./options.js";
import { buildScope, invalidHandshake } from "./scope.js";
import { answerAndClose, SocketGuard } from "./socket-guard.js";
import { ServerCounters, type WebsocketServerStats } from "./stats.js";

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
  readonly counters = new ServerCounters();
  readonly frameWriter = new FrameWriter();
  readonly context: RuntimeContext;
  /** The layer consumers get; undefined when the server was given null. */
  readonly channelLayer: ChannelLayer | undefined;
  private readonly application: Application;
  private readonly connections = new Set<Connection>();
  private readonly wss: WebSocketServer;
  private readonly pending = new WeakMap<IncomingMessage, PendingUpgrade>();
  private readonly keepalive: KeepaliveSchedule<Connection>;
  private closing: Promise<void> | undefined;
  /** Caps and times TCP connections; only on a server serve() made, where they are all ours. */
  private readonly guard: SocketGuard | undefined;

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
    const { logger } = this.options;
    const counters = this.counters;
    this.context = {
      logger,
      rateLimitedLog: new RateLimitedLog(logger),
      countDrop: (reason, count = 1) => counters.drop(reason, count),
    };
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
    if (owns.httpServer) {
      this.guard = new SocketGuard(httpServer, {
        maxConnections: this.options.maxConnections,
        handshakeTimeoutMs: this.options.handshakeTimeoutMs,
        onReject: (reason, status, socket) => this.reportReject(reason, status, undefined, socket.remoteAddress),
      });
    }
    this.keepalive = new KeepaliveSchedule(this.options.pingIntervalMs);
  }

  /** Connections open or still finishing. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Counters as plain numbers: connections, messages in and out, rejections and drops by reason, the layer's stats. */
  stats(): WebsocketServerStats {
    return this.counters.snapshot(this.channelLayer);
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
    this.guard?.detach();
    this.keepalive.stop();
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
    const since = this.guard?.requestArrived(socket as Socket);
    if (!this.options.handles(request)) {
      // Another endpoint's upgrade (a second ws server, Socket.IO): theirs to answer, unless nobody listens.
      if (this.httpServer.listenerCount("upgrade") === 1) {
        answerAndClose(socket, 404, "No WebSocket endpoint at this path");
        this.reportReject("no-route", 404, buildScope(request, null), request.socket.remoteAddress);
      }
      return;
    }
    const problem = invalidHandshake(request);
    const refusal: [RejectReason, number, string] | undefined =
      problem !== undefined
        ? ["malformed-request", 400, problem]
        : this.closing !== undefined
          ? ["shutting-down", 503, "The server is shutting down"]
          : this.connections.size >= this.options.maxConnections
            ? ["too-many-connections", 503, "Too many connections: try again later"]
            : undefined;
    if (refusal !== undefined) {
      const [reason, status, body] = refusal;
      answerAndClose(socket, status, body);
      this.reportReject(reason, status, buildScope(request, null), request.socket.remoteAddress);
      return;
    }
    const scope = buildScope(request, this.channelLayer ?? null);
    setRuntimeContext(scope, this.context);
    const connection = new Connection(this, scope, request, socket, head, since);
    this.connections.add(connection);
    this.keepalive.add(connection);
    connection.start(this.application);
  };

  connected(connection: Connection): void {
    this.counters.open++;
    this.counters.total++;
    this.runHook("onConnect", () => this.options.onConnect({ scope: connection.scope }));
  }

  disconnected(connection: Connection, code: number, reason: DisconnectReason): void {
    this.counters.open--;
    this.runHook("onDisconnect", () => this.options.onDisconnect({ scope: connection.scope, code, reason }));
  }

  rejected(connection: Connection, reason: RejectReason, status: number): void {
    this.reportReject(reason, status, connection.scope, connection.scope.client?.[0]);
  }

  private reportReject(reason: RejectReason, status: number, scope: Scope | undefined, remoteAddress?: string): void {
    this.counters.reject(reason);
    this.runHook("onReject", () => this.options.onReject({ reason, status, scope, remoteAddress }));
  }

  /** A hook that throws must not take the connection (or the server) with it. */
  private runHook(name: string, hook: () => void): void {
    try {
      hook();
    } catch (error) {
      this.options.logger.error(`the ${name} hook failed`, { error });
    }
  }

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
    this.keepalive.remove(connection);
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
