import { BackendUnavailable, ChannelLayerError } from "@channel-layers/core";

/** SQLSTATE of "relation does not exist". */
const UNDEFINED_TABLE = "42P01";

/**
 * Wraps whatever pg rejected with (a refused or dropped connection, a server shutting down, a
 * statement error) in BackendUnavailable, naming what the layer was doing and keeping the cause.
 */
export function backendUnavailable(action: string, cause: unknown): ChannelLayerError {
  if (cause instanceof ChannelLayerError) return cause;
  const detail = cause instanceof Error ? cause.message : String(cause);
  const advice =
    (cause as { code?: unknown } | undefined)?.code === UNDEFINED_TABLE
      ? "the layer's tables are missing: run migrate() or leave the migrate option on"
      : "check that PostgreSQL is up and reachable with the layer's connection settings";
  return new BackendUnavailable(`PostgreSQL could not ${action} (${detail}): ${advice}`, { cause });
}
