import { BackendUnavailable, ChannelLayerError } from "@channel-layers/core";
import { redactUrl } from "@channel-layers/core/backend";

/** What to do about a failed statement, by SQLSTATE (or Node's error code for a socket). */
function advice(code: unknown): string {
  if (code === "42P01") return "the layer's tables are missing: run migrate() or leave the migrate option on";
  if (code === "25P02") return "the transaction given to withClient() failed earlier: roll it back";
  if (code === "28P01" || code === "28000")
    return "check the user, password and pg_hba.conf entry the layer connects with";
  if (typeof code === "string" && code.startsWith("42")) {
    return "the layer's tables do not look as this version expects (run migrate()), or its role lacks privileges on them";
  }
  return "check that PostgreSQL is up and reachable with the layer's connection settings, then retry";
}

/**
 * Whatever pg rejected with (a refused or dropped connection, a timeout, a server shutting down,
 * a statement error) as BackendUnavailable, naming what the layer was doing, where (`target`,
 * credentials redacted) and what to do, and keeping the cause. A ChannelLayerError passes through.
 */
export function backendUnavailable(action: string, cause: unknown, target: string): ChannelLayerError {
  if (cause instanceof ChannelLayerError) return cause;
  const detail = redactUrl(cause instanceof Error ? cause.message : String(cause));
  const code = (cause as { code?: unknown } | undefined)?.code;
  return new BackendUnavailable(`PostgreSQL at ${target} could not ${action} (${detail}): ${advice(code)}`, { cause });
}

/**
 * Whether a failure may pass by itself (a connection refused or lost, a timeout, the server
 * starting or shutting down, too many connections, a serialisation failure or deadlock), so the
 * work is worth retrying; any other SQLSTATE is a statement the server will keep refusing.
 */
export function isTransient(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code !== "string" || !/^[0-9A-Z]{5}$/.test(code)) return true; // Node socket errors, timeouts
  return /^(08|53|57P|58)/.test(code) || code === "40001" || code === "40P01";
}
