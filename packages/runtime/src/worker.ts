import { AbortError, type ChannelLayer, type Message } from "@channel-layers/core";
import { type Application, type ApplicationLike, emptyScope, type Scope } from "./application.js";
import { ConsumerError } from "./errors.js";
import { ChannelNameRouter, type ChannelNameRouterApplication } from "./routing.js";
import { getChannelLayer } from "./settings/registry.js";
import { DEFAULT_SHUTDOWN_SIGNALS, joinShutdown } from "./shutdown/coordinator.js";
import { waitAtMost } from "./shutdown/wait-at-most.js";

/** Options of runWorker(). */
export interface WorkerOptions {
  /** The layer to receive from. Default: `getChannelLayer()`, the settings' default layer. */
  channelLayer?: ChannelLayer;
  /** Told about every error a consumer throws; that message is lost and a new instance serves the next. Default: console.error. */
  onError?: (error: unknown, scope: Scope) => void;
  /**
   * Signals that start the process's shutdown (see `shutdown()`), in which this worker stops taking
   * messages and finishes the ones in hand. Default ["SIGTERM", "SIGINT"]; [] listens for none (the
   * worker still stops when something else starts the shutdown).
   */
  shutdownSignals?: readonly NodeJS.Signals[];
  /** In the process's shutdown, how long the handlers running may take before the layers close anyway. Default 10,000. */
  shutdownTimeoutMs?: number;
}

/** A running worker. */
export interface Worker {
  /** The channels it receives on. */
  readonly channels: readonly string[];
  /** The layer it receives from. */
  readonly channelLayer: ChannelLayer;
  /** True once stop() was called (by you or by the process's shutdown). */
  readonly stopped: boolean;
  /** Resolves when every channel's loop has ended: after stop(), or for a channel whose consumer cannot start. */
  readonly done: Promise<void>;
  /** Stops taking messages, lets the handlers running now finish, and resolves when they have. */
  stop(): Promise<void>;
}

const noClient = async (): Promise<void> => {
  throw new ConsumerError("INVALID_EVENT", "A worker consumer has no client to send to: use channelSend or groupSend");
};

/**
 * Channels' `runworker` with a ChannelNameRouter: receives on each named channel (names without
 * "!", e.g. "thumbnails-generate") and runs its consumer, one message at a time per channel, the
 * handler chosen by the message's type. Any process on the same layer can send work there.
 * Resolves once the layer is ready and the worker is receiving.
 */
export async function runWorker(
  routes: Record<string, ApplicationLike> | ChannelNameRouterApplication,
  options: WorkerOptions = {},
): Promise<Worker> {
  const router = typeof routes === "function" ? routes : ChannelNameRouter(routes);
  const onError =
    options.onError ?? ((error, scope) => console.error(`channel-layers: worker on ${scope.channel} failed:`, error));
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 10_000;
  if (!Number.isFinite(shutdownTimeoutMs) || shutdownTimeoutMs < 0) {
    throw new TypeError(`shutdownTimeoutMs must be a non-negative number; got ${String(options.shutdownTimeoutMs)}`);
  }
  const layer = options.channelLayer ?? (await getChannelLayer());
  const controller = new AbortController();

  const serveChannel = async (channel: string, application: Application): Promise<void> => {
    while (!controller.signal.aborted) {
      const scope: Scope = { ...emptyScope("channel"), channel, channel_layer: layer };
      let taken = 0;
      const receive = async (): Promise<Message> => {
        const message = await layer.receive(channel, { signal: controller.signal });
        taken++;
        return message;
      };
      try {
        await application(scope, receive, noClient);
      } catch (error) {
        if (controller.signal.aborted && error instanceof AbortError) return;
        onError(error, scope);
        // An instance that fails before taking anything would fail again at once: that channel's loop ends.
        if (taken === 0) return;
      }
    }
  };

  const done = Promise.all(router.channels.map((channel) => serveChannel(channel, router))).then(() => undefined);
  const stop = async () => {
    controller.abort();
    leaveShutdown();
    await done;
  };
  const leaveShutdown = joinShutdown(
    { stop: () => waitAtMost(stop(), shutdownTimeoutMs), channelLayer: options.channelLayer },
    options.shutdownSignals ?? DEFAULT_SHUTDOWN_SIGNALS,
  );
  return {
    channels: router.channels,
    channelLayer: layer,
    done,
    stop,
    get stopped() {
      return controller.signal.aborted;
    },
  };
}
