import { Backoff, type BackoffOptions, type LayerDiagnostics } from "@channel-layers/core/backend";
import pg from "pg";
import { quoteIdentifier } from "./layer-names.js";
import type { Receivers } from "./receivers.js";

export interface ListenerOptions {
  /** Connection settings: the layer's connection string, or its pool's settings. */
  config: pg.ClientConfig;
  channels: readonly string[];
  /** Shown in pg_stat_activity, so an operator (or a test) can tell the connection apart. */
  applicationName: string;
  /**
   * How long a connect may take, and how often the idle connection is asked a `SELECT 1` (answered
   * within the same time): a connection can die without a word, and only a question finds out.
   */
  timeoutMs: number;
  backoff: BackoffOptions;
}

/**
 * The layer instance's one LISTEN connection, outside the pool; it only carries wake-ups, never
 * messages. When it drops (pg_terminate_backend, a restart, a network fault) it reconnects with
 * backoff, forever, until closed, and then has the receivers look at the table again.
 */
export class NotificationListener {
  private client: pg.Client | undefined;
  private closed = false;
  private readonly backoff: Backoff;
  private retryTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private connecting: Promise<void> | undefined;
  /** Whether the connection is up and listening. */
  listening = false;

  constructor(
    private readonly options: ListenerOptions,
    private readonly receivers: Receivers,
    private readonly diagnostics: LayerDiagnostics,
  ) {
    this.backoff = new Backoff(options.backoff);
  }

  /** Connects and LISTENs; rejects when this attempt fails, leaving no connection behind. */
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
      connectionTimeoutMillis: this.options.timeoutMs,
      ...this.options.config,
      keepAlive: true,
    });
    // A dropped connection emits "error" (when the server said why) and then "end": one reconnect.
    const dropped = (error?: Error) => this.dropped(client, error);
    client.on("error", dropped);
    client.on("end", () => dropped());
    client.on("notification", (notice) => this.receivers.wake(notice.channel, notice.payload ?? ""));
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
    this.backoff.reset();
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => this.heartbeat(client), this.options.timeoutMs);
    this.heartbeatTimer.unref();
  }

  private heartbeat(client: pg.Client): void {
    if (this.client !== client) return;
    // query_timeout is pg's reply timeout; @types/pg does not list it.
    const ping: pg.QueryConfig = Object.assign({ text: "SELECT 1" }, { query_timeout: this.options.timeoutMs });
    client.query(ping).catch((error: Error) => this.dropped(client, error));
  }

  private dropped(client: pg.Client, error: Error | undefined): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.listening = false;
    client.removeAllListeners("notification");
    // Keep a handler: a late "error" from a dead client must not crash the process.
    client.on("error", () => undefined);
    client.end().catch(() => undefined);
    this.diagnostics.backgroundError(error ?? new Error("the LISTEN connection ended"), { work: "listen" });
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    // Not unref'd: a worker that only waits on receive() must not exit while the server is away.
    this.retryTimer = setTimeout(() => this.reconnect(), this.backoff.next());
  }

  private reconnect(): void {
    if (this.closed) return;
    this.connecting = this.connect();
    this.connecting.then(
      () => {
        if (!this.listening) return;
        this.diagnostics.reconnected({ work: "listen" });
        this.receivers.recheckAll();
      },
      (error: unknown) => {
        this.diagnostics.backgroundError(error, { work: "listen" });
        this.scheduleReconnect();
      },
    );
  }
}
