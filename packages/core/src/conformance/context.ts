import { onTestFinished } from "vitest";
import type { ChannelLayer } from "../channel-layer.js";
import type { ChannelCapacityRule } from "../options.js";

/** What the suite may ask of a layer it creates; a factory maps these onto its backend's options. */
export interface ConformanceLayerOptions {
  expiry?: number;
  groupExpiry?: number;
  capacity?: number;
  channelCapacity?: Record<string, number> | readonly ChannelCapacityRule[];
  maxMessageSize?: number;
  /**
   * Isolation namespace. Absent: the factory must pick a fresh random one, so no two layers
   * share anything. Present: every layer made with the same value is one layer (crossInstance).
   */
  prefix?: string;
}

/** Makes a fresh layer on each call. */
export type ChannelLayerFactory = (options: ConformanceLayerOptions) => ChannelLayer | Promise<ChannelLayer>;

export interface ConformanceOptions {
  /** Shown in the suite's describe() title. */
  name: string;
  factory: ChannelLayerFactory;
  /** Whether two layers made with one `prefix` share messages and groups (any networked backend). */
  crossInstance?: boolean;
  /** Multiplies every wait for an expected message; raise it for a slow backend. Default 1. */
  timeScale?: number;
}

/** What every feature group of the suite gets. */
export interface SuiteContext {
  readonly options: ConformanceOptions;
  /** A fresh layer, closed when the current test ends. */
  layer(options?: ConformanceLayerOptions): Promise<ChannelLayer>;
  /** Two layers on one shared prefix; only when `crossInstance` is set. */
  layerPair(options?: ConformanceLayerOptions): Promise<[ChannelLayer, ChannelLayer]>;
  /** Whether the first layer made by the factory lists `extension`. */
  supports(extension: string): boolean;
  /** Milliseconds to allow for a message that should arrive. */
  readonly arrivalMs: number;
  /** Milliseconds to watch for a message that should not arrive. */
  readonly silenceMs: number;
}

/** Resolves after `ms`; used only where the contract itself is about time passing (expiry). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Receives one message or fails the test after `ms`. */
export async function receiveWithin<M = Record<string, unknown>>(
  layer: ChannelLayer,
  channel: string,
  ms: number,
): Promise<M> {
  const signal = AbortSignal.timeout(ms);
  try {
    return (await layer.receive(channel, { signal })) as M;
  } catch (error) {
    if (signal.aborted) throw new Error(`No message arrived on ${channel} within ${ms} ms`);
    throw error;
  }
}

/** Watches `channel` for `ms` and returns what arrived: `undefined` when nothing did. */
export async function receiveOrNothing(
  layer: ChannelLayer,
  channel: string,
  ms: number,
): Promise<Record<string, unknown> | undefined> {
  try {
    return await layer.receive(channel, { signal: AbortSignal.timeout(ms) });
  } catch (error) {
    if ((error as Error).name === "AbortError") return undefined;
    throw error;
  }
}

/**
 * The error `promise` rejects with (fails if it resolves). Handles the rejection at once, so a
 * layer rejecting it while the test awaits something else is not an unhandled rejection.
 */
export function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`Expected a rejection, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error,
  );
}

/** Settles `promise` if it settles within a few microtasks, i.e. before any I/O could answer. */
export async function settleBeforeIo(promise: Promise<unknown>): Promise<{ settled: boolean; error: unknown }> {
  const outcome = { settled: false, error: undefined as unknown };
  promise.then(
    () => {
      outcome.settled = true;
    },
    (error: unknown) => {
      outcome.settled = true;
      outcome.error = error;
    },
  );
  for (let i = 0; i < 20; i++) await Promise.resolve();
  return outcome;
}

export function createSuiteContext(options: ConformanceOptions, extensions: () => readonly string[]): SuiteContext {
  const scale = options.timeScale ?? 1;
  const track = (layer: ChannelLayer): ChannelLayer => {
    onTestFinished(() => layer.close());
    return layer;
  };
  return {
    options,
    async layer(layerOptions = {}) {
      return track(await options.factory(layerOptions));
    },
    async layerPair(layerOptions = {}) {
      const prefix = layerOptions.prefix ?? `conformance-${Math.random().toString(36).slice(2, 10)}`;
      const first = track(await options.factory({ ...layerOptions, prefix }));
      const second = track(await options.factory({ ...layerOptions, prefix }));
      return [first, second];
    },
    supports: (extension) => extensions().includes(extension),
    arrivalMs: 5000 * scale,
    silenceMs: 300 * scale,
  };
}
