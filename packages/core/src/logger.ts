import { debuglog, format } from "node:util";

/** Extra facts about a log line: channel names, counts, the error. */
export type LogDetails = Record<string, unknown>;

/**
 * The one logger shape every package takes (`logger` option). Console, pino and winston loggers fit
 * it as they are or through a one-line adapter.
 */
export interface Logger {
  debug(message: string, details?: LogDetails): void;
  info(message: string, details?: LogDetails): void;
  warn(message: string, details?: LogDetails): void;
  error(message: string, details?: LogDetails): void;
}

function line(namespace: string, message: string, details: LogDetails | undefined): string {
  return details === undefined ? `${namespace}: ${message}` : `${namespace}: ${message} ${format("%o", details)}`;
}

/**
 * The default logger: quiet unless NODE_DEBUG names the namespace, as Node's own modules do
 * (`NODE_DEBUG=channel-layers:*` for every package, `NODE_DEBUG=channel-layers:redis` for one).
 */
export function debugLogger(namespace: string): Logger {
  const write = debuglog(namespace);
  const log = (message: string, details?: LogDetails) => {
    if (write.enabled) write("%s", line(namespace, message, details));
  };
  return { debug: log, info: log, warn: log, error: log };
}

/** A logger that writes every line to the console with the package's namespace in front. */
export function consoleLogger(namespace = "channel-layers"): Logger {
  return {
    debug: (message, details) => console.debug(line(namespace, message, details)),
    info: (message, details) => console.info(line(namespace, message, details)),
    warn: (message, details) => console.warn(line(namespace, message, details)),
    error: (message, details) => console.error(line(namespace, message, details)),
  };
}

/** The logger a package uses: the one it was given, else `debugLogger(namespace)`. */
export function resolveLogger(logger: Logger | undefined, namespace: string): Logger {
  return logger ?? debugLogger(namespace);
}

/**
 * Lets through one line per key (a cause, an origin) every `intervalMs`, so that a client
 * repeating a bad request cannot flood the log; the next line of a key says how many it held back.
 */
export class RateLimitedLog {
  private readonly lastLogged = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 60_000,
    private readonly maxKeys = 1_000,
  ) {}

  warn(key: string, message: string, details?: LogDetails): void {
    this.log("warn", key, message, details);
  }

  error(key: string, message: string, details?: LogDetails): void {
    this.log("error", key, message, details);
  }

  private log(level: "warn" | "error", key: string, message: string, details: LogDetails | undefined): void {
    const now = Date.now();
    const seen = this.lastLogged.get(key);
    if (seen !== undefined && now - seen.at < this.intervalMs) {
      seen.suppressed++;
      return;
    }
    // Keys come from clients (origins, paths): past maxKeys, forget them all rather than grow.
    if (seen === undefined && this.lastLogged.size >= this.maxKeys) this.lastLogged.clear();
    const suppressed = seen?.suppressed ?? 0;
    this.lastLogged.set(key, { at: now, suppressed: 0 });
    this.logger[level](message, suppressed > 0 ? { ...details, suppressedSinceLast: suppressed } : details);
  }
}
