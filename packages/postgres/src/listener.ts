import pg from "pg";
import { quoteIdentifier } from "./sql.js";

export interface ListenerHandlers {
  /** A NOTIFY on one of the channels listened to. */
  notified(channel: string, payload: string): void;
  /**
   * The connection came back after a drop and LISTENs again. Wake-ups sent while it was down are
   * lost, so whoever waits must look at the table again (the messages themselves are all there).
   */
  reconnected(): void;
}

export interface ListenerOptions {
  channels: readonly string[];
  /** Shown in pg_stat_activity, so an operator (or a test) can tell the connection apart. */
  applicationName: string;
  reconnectDelayMs: number;
  maxReconnectDelayMs: number;
  /**
   * How often the idle connection is asked a `SELECT 1`, answered within the same time. A
   * connection can die without a word (a network partition, a host gone): only a question finds out.
   */
  heartbeatMs: number;
}

/**
 * The layer instance's one LISTEN connection, outside the pool. It only carries wake-ups, never
 * messages. When it drops (pg_terminate_backend, a server restart, a network fault) it reconnects
 * with exponential backoff, forever, until closed.
 */
export class NotificationListener {
  private client: pg.Client | undefined;
  private closed = false;
  private delayMs: number;
  private retryTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private connecting: Promise<void> | undefined;
  /** Whether the connection is up and listening. */
  listening = false;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly options: ListenerOptions,
    private readonly handlers: ListenerHandlers,
  ) {
    this.delayMs = options.reconnectDelayMs;
  }

  /** Connects and LISTENs; rejects when the first attempt fails (the caller reports it). */
  start(): Promise<void> {
    this.connecting ??= this.connect().catch((error: unknown) => {
      this.connecting = undefined;
      throw error;
    });
    return this.connecting;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.heartbeatTimer);
    await this.connecting?.catch(() => undefined);
    const client = this.client;
    this.client = undefined;
    this.listening = false;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      application_name: this.options.applicationName,
      ...this.config,
      keepAlive: true,
    });
    // A dropped connection emits "error" (when the server said why) and then "end"; both lead to
    // one reconnect.
    const dropped = () => this.dropped(client);
    client.on("error", dropped);
    client.on("end", dropped);
    client.on("notification", (notice) => this.handlers.notified(notice.channel, notice.payload ?? ""));
    try {
      await client.connect();
      await client.query(this.options.channels.map((channel) => `LISTEN ${quoteIdentifier(channel)}`).join("; "));
    } catch (error) {
      client.removeAllListeners("end");
      client.on("error", () => undefined);
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.listening = true;
    this.delayMs = this.options.reconnectDelayMs;
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => this.heartbeat(client), this.options.heartbeatMs);
    this.heartbeatTimer.unref();
  }

  private heartbeat(client: pg.Client): void {
    if (this.client !== client) return;
    // query_timeout is pg's reply timeout; @types/pg does not list it.
    const ping: pg.QueryConfig = Object.assign({ text: "SELECT 1" }, { query_timeout: this.options.heartbeatMs });
    client.query(ping).catch(() => this.dropped(client));
  }

  private dropped(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.listening = false;
    client.removeAllListeners("notification");
    // Keep a handler: a late "error" from a dead client must not crash the process.
    client.on("error", () => undefined);
    client.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.options.maxReconnectDelayMs);
    // Jitter spreads the reconnects of many processes after a server restart.
    // Not unref'd: a worker that only waits on receive() must not exit while the server is away.
    this.retryTimer = setTimeout(() => this.reconnect(), delay * (0.75 + Math.random() * 0.5));
  }

  private reconnect(): void {
    if (this.closed) return;
    this.connecting = this.connect();
    this.connecting.then(
      () => {
        if (this.listening) this.handlers.reconnected();
      },
      () => this.scheduleReconnect(),
    );
  }
}
