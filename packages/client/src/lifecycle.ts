import type { ClientError } from "./errors.js";

/** A connection opened (and the offline queue was flushed into it). */
export interface OpenEvent {
  /** False for the first connection of this client (or after connect()), true after a reconnect. */
  readonly reconnected: boolean;
}

/** A connection closed, or an attempt to open one failed. */
export interface CloseEvent {
  /** The WebSocket close code: the server's, 1006 for a lost or failed connection (also heartbeat and connect timeouts). */
  readonly code: number;
  /** The server's close reason, or the client's explanation for 1006 cases it detected itself. */
  readonly reason: string;
  /** Whether the closing handshake completed. */
  readonly wasClean: boolean;
  /** Whether a reconnect follows; false means the client is now closed. */
  readonly willReconnect: boolean;
  /** When willReconnect is false: what was passed to send() while offline and never went out, in order. */
  readonly unsent: readonly unknown[];
}

/** A reconnect is scheduled. */
export interface ReconnectingEvent {
  /** 1 for the first attempt after a connection was lost; resets when a connection opens. */
  readonly attempt: number;
  /** How long until the attempt, in milliseconds. */
  readonly delayMs: number;
}

/** The server could not replay everything this client missed in a group (its history no longer reaches back). */
export interface GapEvent {
  /** The group whose messages are missing; the kept ones follow as ordinary frames. */
  readonly group: string;
}

/** The lifecycle events and what their listeners get. */
export interface LifecycleEventMap {
  open: OpenEvent;
  close: CloseEvent;
  reconnecting: ReconnectingEvent;
  error: ClientError;
  gap: GapEvent;
}

export type LifecycleListener<Name extends keyof LifecycleEventMap> = (event: LifecycleEventMap[Name]) => void;

/**
 * The client's own events, apart from the server's messages so a server frame typed "open" or
 * "error" never mixes with them.
 */
export interface Lifecycle {
  /** Calls `listener` on each `name` event; returns a function that removes it. */
  on<Name extends keyof LifecycleEventMap>(name: Name, listener: LifecycleListener<Name>): () => void;
  /** Calls `listener` on the next `name` event only; returns a function that removes it. */
  once<Name extends keyof LifecycleEventMap>(name: Name, listener: LifecycleListener<Name>): () => void;
  /** Removes `listener` from `name` events. */
  off<Name extends keyof LifecycleEventMap>(name: Name, listener: LifecycleListener<Name>): void;
}

type AnyListener = (event: never) => void;

export class LifecycleEmitter implements Lifecycle {
  private readonly listeners = new Map<keyof LifecycleEventMap, { listener: AnyListener; once: boolean }[]>();

  constructor(private readonly onListenerError: (error: unknown, name: keyof LifecycleEventMap) => void) {}

  on<Name extends keyof LifecycleEventMap>(name: Name, listener: LifecycleListener<Name>): () => void {
    return this.add(name, listener, false);
  }

  once<Name extends keyof LifecycleEventMap>(name: Name, listener: LifecycleListener<Name>): () => void {
    return this.add(name, listener, true);
  }

  off<Name extends keyof LifecycleEventMap>(name: Name, listener: LifecycleListener<Name>): void {
    const remaining = (this.listeners.get(name) ?? []).filter((entry) => entry.listener !== listener);
    this.listeners.set(name, remaining);
  }

  hasListeners(name: keyof LifecycleEventMap): boolean {
    return (this.listeners.get(name)?.length ?? 0) > 0;
  }

  emit<Name extends keyof LifecycleEventMap>(name: Name, event: LifecycleEventMap[Name]): void {
    const entries = this.listeners.get(name) ?? [];
    if (entries.some((entry) => entry.once)) {
      this.listeners.set(
        name,
        entries.filter((entry) => !entry.once),
      );
    }
    for (const { listener } of entries) {
      try {
        (listener as LifecycleListener<Name>)(event);
      } catch (error) {
        this.onListenerError(error, name);
      }
    }
  }

  private add(name: keyof LifecycleEventMap, listener: AnyListener, once: boolean): () => void {
    this.listeners.set(name, [...(this.listeners.get(name) ?? []), { listener, once }]);
    return () => this.off(name, listener as LifecycleListener<typeof name>);
  }
}
