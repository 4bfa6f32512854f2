import { expect, onTestFinished } from "vitest";
import type { ChannelLayer } from "../channel-layer.js";
import type { GroupHistoryPattern } from "../history.js";
import type { ChannelCapacityRule } from "../options.js";
import { type PresenceTestControl, presenceTestControl } from "../presence-tracker.js";

/** What the suite may ask of a layer it creates; a factory maps these onto its backend's options. */
export interface ConformanceLayerOptions<L extends ChannelLayer = ChannelLayer> {
  expiry?: number;
  groupExpiry?: number;
  capacity?: number;
  channelCapacity?: Record<string, number> | readonly ChannelCapacityRule[];
  maxMessageSize?: number;
  /** For the history tests (layers listing "history"). */
  groupHistory?: readonly GroupHistoryPattern[];
  /** For the presence tests (layers listing "presence"): short, so lapsed entries go within a test. */
  presenceHeartbeatMs?: number;
  presenceTimeoutMs?: number;
  /**
   * Absent: a fresh layer that shares nothing with any other (a new prefix of the factory's own
   * choosing). Present: another instance of that same layer, on its server and prefix
   * (crossInstance), so a send on one reaches receives on the other.
   */
  sibling?: L;
}

/** Makes a layer on each call (see ConformanceLayerOptions.sibling). */
export type ChannelLayerFactory<L extends ChannelLayer = ChannelLayer> = (
  options: ConformanceLayerOptions<L>,
) => L | Promise<L>;

export interface ConformanceOptions<L extends ChannelLayer = ChannelLayer> {
  /** Shown in the suite's describe() title. */
  name: string;
  factory: ChannelLayerFactory<L>;
  /** Whether a factory's `sibling` shares messages and groups with the first (any networked backend). */
  crossInstance?: boolean;
  /** Multiplies every wait and every test's timeout; raise it for a slow backend. Default 1. */
  timeScale?: number;
  /**
   * Called for every layer the suite made, once its test has ended and the suite has flushed and
   * closed it: remove whatever it still holds on the server (tables, streams), so a run leaves
   * nothing behind.
   */
  dispose?: (layer: L) => void | Promise<void>;
  /**
   * A layer pointed at a server that does not answer (a port nothing listens on): the suite then
   * checks that every call rejects with BACKEND_UNAVAILABLE. Without it those tests are skipped.
   */
  unreachableFactory?: () => ChannelLayer | Promise<ChannelLayer>;
  /**
   * The presence test hooks of a layer (crash, pauseRefresh, resumeRefresh). Default:
   * `presenceTestControl` from `@channel-layers/core/backend`, which every layer built on
   * BaseChannelLayer has. Without hooks the presence expiry tests are skipped.
   */
  presenceControl?: (layer: L) => PresenceTestControl | undefined;
}

/** What every feature group of the suite gets. */
export interface SuiteContext {
  readonly options: ConformanceOptions<ChannelLayer>;
  /** A fresh layer, flushed, closed and disposed when the current test ends. */
  layer(options?: ConformanceLayerOptions): Promise<ChannelLayer>;
  /** Two instances of one layer (the second the factory's sibling of the first); only with `crossInstance`. */
  layerPair(options?: ConformanceLayerOptions): Promise<[ChannelLayer, ChannelLayer]>;
  /** Whether the first layer made by the factory lists `extension`. */
  supports(extension: string): boolean;
  /** The presence test hooks of a layer the suite made, if it has them. */
  presenceControl(layer: ChannelLayer): PresenceTestControl | undefined;
  /** Milliseconds to allow for a message that should arrive. */
  readonly arrivalMs: number;
  /** Milliseconds to watch for a message that should not arrive. */
  readonly silenceMs: number;
  /** A test's timeout: `waits` arrival waits, so always longer than any one wait of it. */
  timeout(waits?: number): { timeout: number };
}

/**
 * Resolves after `ms`; used only where the contract itself is about time passing (expiry), or
 * to let messages arrive where a layer may decide on arrival what a later receive changes.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A short, readable rendering of a message (or anything) for failure messages. */
export function describeValue(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value, (_key, item: unknown) => {
      if (typeof item === "bigint") return `${item}n`;
      if (item instanceof Uint8Array) return `<${item.byteLength} bytes>`;
      if (typeof item === "string" && item.length > 60) return `${item.slice(0, 60)}...(${item.length} chars)`;
      // A Buffer has already become { type: "Buffer", data } through its toJSON.
      const json = item as { type?: unknown; data?: unknown };
      if (json !== null && typeof json === "object" && json.type === "Buffer" && Array.isArray(json.data)) {
        return `<${json.data.length} bytes>`;
      }
      return item;
    });
  } catch {
    text = String(value);
  }
  return text === undefined ? String(value) : text;
}

/** Says which of 0..count-1 are missing from `received` and which came more than once: for failure messages. */
export function countingProblems(received: readonly number[], count: number): string {
  const seen = new Map<number, number>();
  for (const n of received) seen.set(n, (seen.get(n) ?? 0) + 1);
  const missing = Array.from({ length: count }, (_, n) => n).filter((n) => !seen.has(n));
  const duplicated = [...seen].filter(([, times]) => times > 1).map(([n]) => n);
  const order = received.findIndex((n, i) => i > 0 && n < (received[i - 1] as number));
  const parts = [
    missing.length > 0 ? `missing ${describeValue(missing.slice(0, 20))}${missing.length > 20 ? "..." : ""}` : "",
    duplicated.length > 0 ? `duplicated ${describeValue(duplicated.slice(0, 20))}` : "",
    order > 0 ? `out of order at position ${order} (${received[order - 1]} then ${received[order]})` : "",
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(", ") : "none missing, duplicated or out of order";
}

/** Receives one message or fails the test after `ms`, naming the channel and what was expected. */
export async function receiveWithin<M = Record<string, unknown>>(
  layer: ChannelLayer,
  channel: string,
  ms: number,
  expected?: unknown,
): Promise<M> {
  const signal = AbortSignal.timeout(ms);
  try {
    return (await layer.receive(channel, { signal })) as M;
  } catch (error) {
    if (signal.aborted) {
      const wanted = expected === undefined ? "" : `; expected ${describeValue(expected)}`;
      throw new Error(`No message arrived on ${channel} within ${ms} ms${wanted}`);
    }
    throw error;
  }
}

/** Receives one message and fails unless it equals `expected`, saying what arrived instead. */
export async function expectReceive(
  layer: ChannelLayer,
  channel: string,
  expected: unknown,
  ms: number,
): Promise<Record<string, unknown>> {
  const got = await receiveWithin(layer, channel, ms, expected);
  expect(got, `${channel} should receive ${describeValue(expected)}, but received ${describeValue(got)}`).toEqual(
    expected,
  );
  return got;
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

/** Fails if anything arrives on `channel` within `ms`; `why` says why nothing should. */
export async function expectNothing(layer: ChannelLayer, channel: string, ms: number, why: string): Promise<void> {
  const got = await receiveOrNothing(layer, channel, ms);
  expect(got, `${channel} should receive nothing (${why}), but received ${describeValue(got)}`).toBeUndefined();
}

/**
 * The error `promise` rejects with (fails if it resolves). Handles the rejection at once, so a
 * layer rejecting it while the test awaits something else is not an unhandled rejection.
 */
export function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`Expected a rejection, got ${describeValue(value)}`);
    },
    (error: unknown) => error,
  );
}

/** Marks `promises` handled, so the ones a failing test leaves behind cannot reject unhandled later. */
export function handled<T>(promises: Promise<T>[]): Promise<T>[] {
  for (const promise of promises) promise.catch(() => undefined);
  return promises;
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

/**
 * After a test: flush what its layers left on the server, close them all, then let the factory
 * dispose of the rest (only once all are closed, as siblings share what dispose removes).
 */
async function cleanUp(options: ConformanceOptions<ChannelLayer>, layers: readonly ChannelLayer[]): Promise<void> {
  for (const layer of layers) {
    try {
      if (layer.extensions.includes("flush")) await layer.flush();
    } catch (error) {
      // A test that closed its layer cannot have it flushed: dispose() has to clean up alone.
      if ((error as { code?: string }).code !== "LAYER_CLOSED") throw error;
    }
  }
  await Promise.all(layers.map((layer) => layer.close()));
  for (const layer of layers) await options.dispose?.(layer);
}

export function createSuiteContext(
  options: ConformanceOptions<ChannelLayer>,
  extensions: () => readonly string[],
): SuiteContext {
  const scale = options.timeScale ?? 1;
  const arrivalMs = 5000 * scale;
  let testLayers: ChannelLayer[] | undefined;
  const track = (layer: ChannelLayer): ChannelLayer => {
    if (testLayers === undefined) {
      const layers: ChannelLayer[] = [];
      testLayers = layers;
      onTestFinished(() => {
        testLayers = undefined;
        return cleanUp(options, layers);
      });
    }
    testLayers.push(layer);
    return layer;
  };
  return {
    options,
    async layer(layerOptions = {}) {
      return track(await options.factory(layerOptions));
    },
    async layerPair(layerOptions = {}) {
      const first = track(await options.factory(layerOptions));
      const second = track(await options.factory({ ...layerOptions, sibling: first }));
      return [first, second];
    },
    supports: (extension) => extensions().includes(extension),
    presenceControl: (layer) => (options.presenceControl ?? presenceTestControl)(layer),
    arrivalMs,
    silenceMs: 300 * scale,
    timeout: (waits = 4) => ({ timeout: Math.ceil(arrivalMs * waits) }),
  };
}
