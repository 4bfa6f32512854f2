import type { IncomingMessage, ServerResponse } from "node:http";
import { type ChannelLayer, ChannelLayerError, type Logger } from "@channel-layers/core";
import { RateLimitedLog, resolveLogger } from "@channel-layers/core/backend";
import type { HttpHandler } from "./application.js";
import { RUNTIME_LOG_NAMESPACE } from "./runtime-context.js";
import { getChannelLayer } from "./settings/registry.js";
import { joinShutdown } from "./shutdown/coordinator.js";

/** Why a process should get no new connections: it is draining, or its layer does not carry messages. */
export type NotReadyReason = "shutting-down" | "layer-closed" | "layer-unavailable";

/** What a readiness check found. */
export type Readiness = { ready: true } | { ready: false; reason: NotReadyReason };

/** Options of `createHealthChecks()`; every field has a default. */
export interface HealthCheckOptions {
  /**
   * The layer a readiness check sends a message through and receives it back from. Default:
   * `getChannelLayer()` at each check, so a layer the shutdown closed shows. null: no layer check.
   */
  channelLayer?: ChannelLayer | null;
  /** How long that round trip may take before the process counts as not ready. Default 2,000. */
  timeoutMs?: number;
  /** Where failed checks are logged, one line per reason per minute. Default debugLogger("channel-layers:runtime"). */
  logger?: Logger;
}

/** Liveness and readiness for a load balancer, systemd or Kubernetes. */
export interface HealthChecks {
  /** Readiness now: not shutting down, and a message made a round trip through the layer in time. */
  check(): Promise<Readiness>;
  /** Liveness: 200 `{"status":"alive"}` whenever the process answers, also while it drains. */
  readonly liveness: HttpHandler;
  /** Readiness: 200 `{"status":"ready"}`, else 503 `{"status":"not-ready","reason":...}`. */
  readonly readiness: HttpHandler;
}

/**
 * Health checks for this process. They join the process's shutdown: from its first step
 * (when servers stop accepting) readiness answers 503 "shutting-down", while liveness stays 200.
 */
export function createHealthChecks(options: HealthCheckOptions = {}): HealthChecks {
  const timeoutMs = options.timeoutMs ?? 2000;
  if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
    throw new TypeError(`timeoutMs must be a positive number; got ${String(options.timeoutMs)}`);
  }
  const log = new RateLimitedLog(resolveLogger(options.logger, RUNTIME_LOG_NAMESPACE));
  let shuttingDown = false;
  joinShutdown(
    {
      stop: async () => {
        shuttingDown = true;
      },
      channelLayer: undefined,
    },
    [],
  );
  let running: Promise<Readiness> | undefined;

  const probe = async (): Promise<Readiness> => {
    if (options.channelLayer === null) return { ready: true };
    try {
      const layer = options.channelLayer ?? (await getChannelLayer());
      await withinTimeout(roundTrip(layer, timeoutMs), timeoutMs);
      return { ready: true };
    } catch (error) {
      const reason =
        error instanceof ChannelLayerError && error.code === "LAYER_CLOSED" ? "layer-closed" : "layer-unavailable";
      log.warn(`readiness ${reason}`, `readiness check failed: ${reason}`, { error });
      return { ready: false, reason };
    }
  };

  const check = (): Promise<Readiness> => {
    if (shuttingDown) return Promise.resolve({ ready: false, reason: "shutting-down" });
    // Probes that arrive together share one round trip.
    running ??= probe().finally(() => {
      running = undefined;
    });
    return running.then((readiness) => (shuttingDown ? { ready: false, reason: "shutting-down" } : readiness));
  };

  return {
    check,
    liveness: (request, response) => answer(request, response, 200, { status: "alive" }),
    readiness: (request, response) => {
      check().then(
        (readiness) =>
          readiness.ready
            ? answer(request, response, 200, { status: "ready" })
            : answer(request, response, 503, { status: "not-ready", reason: readiness.reason }),
        () => answer(request, response, 503, { status: "not-ready", reason: "layer-unavailable" }),
      );
    },
  };
}

/** Paths `withHealthChecks()` answers, besides the checks' own options. */
export interface HealthEndpointOptions extends HealthCheckOptions {
  /** Default "/healthz". */
  livenessPath?: string;
  /** Default "/readyz". */
  readinessPath?: string;
}

/**
 * An HTTP handler that answers GET/HEAD `/healthz` (liveness) and `/readyz` (readiness) and hands
 * every other request to `handler` (404 without one): `ProtocolTypeRouter({ http:
 * withHealthChecks(views), websocket })`.
 */
export function withHealthChecks(handler?: HttpHandler, options: HealthEndpointOptions = {}): HttpHandler {
  const { livenessPath = "/healthz", readinessPath = "/readyz", ...checkOptions } = options;
  const health = createHealthChecks(checkOptions);
  return (request, response) => {
    const url = request.url ?? "/";
    const end = url.indexOf("?");
    const path = end === -1 ? url : url.slice(0, end);
    if (path === livenessPath) return health.liveness(request, response);
    if (path === readinessPath) return health.readiness(request, response);
    if (handler !== undefined) return handler(request, response);
    response.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("Not found");
  };
}

/** Sends a message to a fresh channel of the layer and receives it back; the channel is discarded after. */
async function roundTrip(layer: ChannelLayer, timeoutMs: number): Promise<void> {
  const channel = await layer.newChannel("health");
  try {
    await layer.send(channel, { type: "health.check" });
    await layer.receive(channel, { signal: AbortSignal.timeout(timeoutMs) });
  } finally {
    layer.discardChannel(channel).catch(() => undefined);
  }
}

/** Rejects if `promise` has not settled within `ms`: a layer whose server is gone may queue calls rather than fail them. */
async function withinTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no round trip through the layer within ${ms} ms`)), ms);
  });
  promise.catch(() => undefined);
  try {
    await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

function answer(request: IncomingMessage, response: ServerResponse, status: number, body: object): void {
  if (request.method !== "GET" && request.method !== "HEAD") {
    response.writeHead(405, { allow: "GET, HEAD" }).end();
    return;
  }
  const json = JSON.stringify(body);
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(json),
    "cache-control": "no-store",
  });
  response.end(request.method === "HEAD" ? undefined : json);
}
