import { AbortError, type ChannelLayer, LayerClosed, type Message } from "@channel-layers/core";
import { type Application, emptyScope, type Receive, type Scope, type Send } from "./application.js";
import { ConsumerPresence } from "./consumer-presence.js";
import { handlerFor, isTransportEvent, reserveMethodsOf } from "./dispatch.js";
import { ConsumerError, StopConsumer } from "./errors.js";
import { runtimeContext } from "./runtime-context.js";

const EMPTY_SCOPE: Scope = Object.freeze(emptyScope());
const ignore = () => undefined;

const CLIENT = 0;
const CHANNEL = 1;
type Source = typeof CLIENT | typeof CHANNEL;

/**
 * Channels' AsyncConsumer: one instance per connection. It gets `scope`, the `channelLayer` and
 * its own `channelName` (from `newChannel()`), then takes messages from the client and from its
 * channel at once and runs them one at a time, each by its `type`: `chat.message` runs the method
 * `chat_message(message)`. When it ends (a handler throws StopConsumer, `stop()` is called, or
 * the connection goes), its channel is discarded, which also leaves every group it joined.
 */
export class AsyncConsumer {
  /**
   * The layer this class uses: undefined (the default) takes the server's (`scope.channel_layer`),
   * null uses none (no channel is made), a layer uses that one. Channels' `channel_layer_alias`.
   */
  static channelLayer: ChannelLayer | null | undefined = undefined;

  /**
   * Whether messages from the layer whose type starts with `websocket.` or `http.` may run their
   * handlers. Default false: such a message is dropped (counted and logged once), so a groupSend
   * of `{ type: "websocket.disconnect" }` cannot close sockets nor a `websocket.receive` pose as
   * client input. Channels lets them through; set true to do the same.
   */
  static acceptsTransportEventsFromLayer = false;

  /** The connection's scope (path, headers, url_route, user...). */
  scope: Scope = EMPTY_SCOPE;
  /** The channel layer, or undefined when the consumer has none. */
  channelLayer: ChannelLayer | undefined;
  /** This consumer's own channel, made by `channelLayer.newChannel()`; "" without a layer. */
  channelName = "";
  private baseSend: Send | undefined;
  private controller: AbortController | undefined;
  private stopRequested = false;
  private wakeStopped: (() => void) | undefined;
  private presenceApi: ConsumerPresence | undefined;
  /** The message from the layer whose handler runs now, if any. */
  private layerMessage: Message | undefined;
  /** holdLayerMessages() calls not released yet, and what to do on the last release. */
  private layerHolds = 0;
  private resumeLayerMessages: (() => void) | undefined;

  /** The application that runs one new instance of this class per connection (Channels' as_asgi). */
  static asApplication<T extends AsyncConsumer>(this: new () => T): Application {
    return (scope, receive, send) => new this().run(scope, receive, send);
  }

  /**
   * Aborted when the consumer ends: hand it to timers, fetches and listeners a handler starts
   * (`setTimeout(fn, ms, { signal })` style, `addEventListener(..., { signal })`), so none outlives it.
   */
  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    return this.controller.signal;
  }

  /**
   * Presence through this consumer's channel: `this.presence.track(group, key, meta)`, `untrack`,
   * `list`. Its tracks end with the consumer. Needs a layer listing the presence extension.
   */
  get presence(): ConsumerPresence {
    this.presenceApi ??= new ConsumerPresence(
      () => this.requireLayer("presence"),
      () => this.channelName,
    );
    return this.presenceApi;
  }

  /** The message from the layer being handled now (for its group and offset); undefined in a client event's handler. */
  protected get currentLayerMessage(): Message | undefined {
    return this.layerMessage;
  }

  /**
   * Leaves messages on the consumer's channel in the layer (capacity applies) until the returned
   * function is called; client events go on meanwhile. Resume uses it while it waits for the
   * client's resume frame.
   */
  protected holdLayerMessages(): () => void {
    this.layerHolds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.layerHolds--;
      if (this.layerHolds === 0) this.resumeLayerMessages?.();
    };
  }

  /** Whether to drop a message from the layer before its handler runs; resume drops replayed duplicates. */
  protected isDuplicateFromLayer(_message: Message): boolean {
    return false;
  }

  /** Runs a message that came from the layer (live or replayed): refused transport events are dropped. */
  protected async dispatchFromLayer(message: Message): Promise<void> {
    if (!this.refusesFromLayer(message)) await this.runFromLayer(message);
  }

  private async runFromLayer(message: Message): Promise<void> {
    const previous = this.layerMessage;
    this.layerMessage = message;
    try {
      await this.dispatch(message);
    } finally {
      this.layerMessage = previous;
    }
  }

  /** Runs the consumer for one connection; resolves when it ends. */
  async run(scope: Scope, receive: Receive, send: Send): Promise<void> {
    this.scope = scope;
    this.baseSend = send;
    const configured = (this.constructor as typeof AsyncConsumer).channelLayer;
    const layer = configured === undefined ? (scope.channel_layer ?? undefined) : (configured ?? undefined);
    let failure: { error: unknown } | undefined;
    try {
      if (layer !== undefined) {
        this.channelLayer = layer;
        this.channelName = await layer.newChannel();
      }
      await this.dispatchUntilStopped(receive, layer);
    } catch (error) {
      failure = { error };
    }
    this.stopRequested = true;
    this.controller?.abort();
    if (layer !== undefined && this.channelName !== "") {
      try {
        await layer.discardChannel(this.channelName);
      } catch (discardError) {
        // The layer closing first (server shutdown) already freed everything.
        if (!(discardError instanceof LayerClosed)) {
          if (failure === undefined) throw discardError;
          // The consumer failed first (often the same backend outage): that error is the one to see.
          throw new ConsumerError(
            "DISCARD_FAILED",
            `${this.constructor.name} failed (${describe(failure.error)}), then discarding its channel failed too (${describe(discardError)})`,
            { cause: failure.error },
          );
        }
      }
    }
    if (failure !== undefined) throw failure.error;
  }

  /**
   * Runs for each `presence.diff` of a group this consumer is in (someone's presence joined or
   * left): nothing by default; a WebsocketConsumer forwards it to its client.
   */
  async presence_diff(_message: Message): Promise<void> {}

  /** Runs the handler for `message.type`; override to route messages some other way. */
  dispatch(message: Message): Promise<void> {
    // Not async: the handler's own promise is returned as is, one promise and tick fewer per message.
    try {
      const result = handlerFor(this, message.type).call(this, message as never);
      return result instanceof Promise ? (result as Promise<void>) : Promise.resolve(result).then(ignore);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Sends an event to the client side (websocket.accept / .send / .close); Channels' base send. */
  protected sendEvent(event: Message): Promise<void> {
    if (this.baseSend === undefined) {
      return Promise.reject(new ConsumerError("INVALID_EVENT", "The consumer is not running yet"));
    }
    return this.baseSend(event);
  }

  /**
   * Ends the consumer once the handler running now (if any) returns; no other message is handled,
   * and its channel is discarded with what waits there. Throwing StopConsumer from a handler does the same.
   */
  stop(): void {
    if (this.stopRequested) return;
    this.stopRequested = true;
    this.controller?.abort();
    this.wakeStopped?.();
  }

  /** Adds this consumer's channel to `group`. */
  async groupAdd(group: string): Promise<void> {
    await this.requireLayer("groupAdd").groupAdd(group, this.channelName);
  }

  /** Removes this consumer's channel from `group`. */
  async groupDiscard(group: string): Promise<void> {
    await this.requireLayer("groupDiscard").groupDiscard(group, this.channelName);
  }

  /** Sends `message` to every channel in `group`; the members run the handler its `type` names. */
  async groupSend(group: string, message: Message): Promise<void> {
    await this.requireLayer("groupSend").groupSend(group, message);
  }

  /** Sends `message` to one channel (another consumer's `channelName`, or a worker's channel). */
  async channelSend(channel: string, message: Message): Promise<void> {
    await this.requireLayer("channelSend").send(channel, message);
  }

  /** Whether `message` is a transport event from the layer this class does not take; counts and logs it. */
  private refusesFromLayer(message: Message): boolean {
    const consumerClass = this.constructor as typeof AsyncConsumer;
    if (!isTransportEvent(message.type) || consumerClass.acceptsTransportEventsFromLayer) return false;
    const context = runtimeContext(this.scope);
    context.countDrop("transport-event-from-layer");
    const key = `${consumerClass.name}\0${message.type}`;
    if (!refusedLogged.has(key) && refusedLogged.size < REFUSED_LOGGED_MAX) {
      refusedLogged.add(key);
      context.logger.warn(
        `${consumerClass.name} dropped a ${JSON.stringify(message.type)} message from the channel layer: transport events come from the client only (set static acceptsTransportEventsFromLayer = true to take them)`,
      );
    }
    return true;
  }

  protected requireLayer(what: string): ChannelLayer {
    if (this.channelLayer === undefined) {
      throw new ConsumerError(
        "NO_CHANNEL_LAYER",
        `${what} needs a channel layer: pass channelLayer to serve()/WebsocketCommunicator, or set static channelLayer on ${this.constructor.name}`,
      );
    }
    return this.channelLayer;
  }

  /**
   * Channels' await_many_dispatch: one pending take from each source (the client, the channel),
   * and whichever delivers first is dispatched; a source is taken from again only after its
   * message was handled, so handlers never overlap and a slow consumer leaves messages in the
   * layer (where capacity applies) instead of buffering them here.
   */
  private dispatchUntilStopped(receive: Receive, layer: ChannelLayer | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const ready: [Source, Message][] = [];
      let busy = false;
      let finished = false;
      // A channel message taken while layer messages are held waits here, not taken again.
      let held: [Source, Message] | undefined;
      this.resumeLayerMessages = () => {
        if (held === undefined || finished) return;
        ready.push(held);
        held = undefined;
        if (!busy) void drain();
      };
      const finish = (error?: unknown) => {
        if (finished) return;
        finished = true;
        this.wakeStopped = undefined;
        if (error === undefined || error instanceof StopConsumer) resolve();
        else reject(error);
      };
      const take = (source: Source) => {
        // No signal on the own channel: an AbortSignal listener per message costs more than the
        // rest of the receive, and discardChannel (always run when the consumer ends) rejects
        // the receive still waiting there, which `finished` then ignores.
        const next = source === CLIENT ? receive() : (layer as ChannelLayer).receive(this.channelName);
        next.then(
          (message) => {
            ready.push([source, message]);
            if (!busy) void drain();
          },
          (error: unknown) => {
            // A receive aborted because we are stopping is the expected end, not a failure.
            if (this.stopRequested && (error instanceof AbortError || finished)) finish();
            else finish(error);
          },
        );
      };
      // A worker's "client" is the layer too (its scope is a channel scope).
      const fromLayer = (source: Source) => source === CHANNEL || this.scope.type === "channel";
      const drain = async () => {
        busy = true;
        while (!finished) {
          const entry = ready.shift();
          if (entry === undefined) break;
          if (entry[0] === CHANNEL && this.layerHolds > 0) {
            held = entry;
            continue;
          }
          const layerMessage = fromLayer(entry[0]);
          if (layerMessage && (this.refusesFromLayer(entry[1]) || this.isDuplicateFromLayer(entry[1]))) {
            take(entry[0]);
            continue;
          }
          try {
            if (layerMessage) await this.runFromLayer(entry[1]);
            else await this.dispatch(entry[1]);
          } catch (error) {
            finish(error);
            break;
          }
          if (this.stopRequested) finish();
          else take(entry[0]);
        }
        busy = false;
      };
      this.wakeStopped = () => {
        if (!busy) finish();
      };
      if (this.stopRequested) return finish();
      take(CLIENT);
      if (layer !== undefined) take(CHANNEL);
    });
  }
}

/** One line per consumer class and refused type, at most this many kept in mind. */
const refusedLogged = new Set<string>();
const REFUSED_LOGGED_MAX = 1000;

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

reserveMethodsOf(AsyncConsumer.prototype);
