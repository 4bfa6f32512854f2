import { AbortError, type ChannelLayer, type Message } from "@channel-layers/core";
import { type Application, type ApplicationLike, emptyScope, type Scope } from "./application.js";
import { ConsumerError } from "./errors.js";
import { ChannelNameRouter, type ChannelNameRouterApplication } from "./routing.js";

/** Options of runWorker(). */
export interface WorkerOptions {
  /** Told about every error a consumer throws; that message is lost and a new instance serves the next. Default: console.error. */
  onError?: (error: unknown, scope: Scope) => void;
  /** Signals that stop the worker, close the layer and exit. Default ["SIGTERM", "SIGINT"]; [] to handle them yourself. */
  shutdownSignals?: NodeJS.Signals[];
}

/** A running worker. */
export interface Worker {
  /** The channels it receives on. */
  readonly channels: readonly string[];
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
 */
export function runWorker(
  layer: ChannelLayer,
  routes: Record<string, ApplicationLike> | ChannelNameRouterApplication,
  options: WorkerOptions = {},
): Worker {
  const router = typeof routes === "function" ? routes : ChannelNameRouter(routes);
  const onError =
    options.onError ?? ((error, scope) => console.error(`channel-layers: worker on ${scope.channel} failed:`, error));
  const controller = new AbortController();
  const signals = options.shutdownSignals ?? ["SIGTERM", "SIGINT"];

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
    for (const name of signals) process.off(name, onSignal);
    await done;
  };
  function onSignal(signal: NodeJS.Signals): void {
    void (async () => {
      try {
        await stop();
        await layer.close();
      } catch (error) {
        console.error(`channel-layers: worker shutdown on ${signal} failed:`, error);
        process.exitCode = 1;
      }
      process.exit();
    })();
  }
  for (const name of signals) process.on(name, onSignal);
  return { channels: router.channels, done, stop };
}
