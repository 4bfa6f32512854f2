import type { WebsocketServer, WebsocketServerStats } from "@channel-layers/runtime";
import { Counter, Gauge, type Registry } from "prom-client";

/** Exposes `server.stats()` to Prometheus, read afresh at every scrape. */
export function registerWebsocketMetrics(server: WebsocketServer, registry: Registry): void {
  const registers = [registry];
  new Gauge({
    name: "channel_layers_connections_open",
    help: "WebSockets open now",
    registers,
    collect() {
      this.set(server.stats().connections.open);
    },
  });
  new Gauge({
    name: "channel_layers_queued_bytes",
    help: "Bytes of client frames waiting for consumers now",
    registers,
    collect() {
      this.set(server.stats().queuedBytes);
    },
  });
  // Totals since the server started: reset, then set from the snapshot.
  const total = (
    name: string,
    help: string,
    labelNames: string[],
    read: (stats: WebsocketServerStats) => [Record<string, string>, number][],
  ) =>
    new Counter({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const [labels, value] of read(server.stats())) this.inc(labels, value);
      },
    });
  total("channel_layers_connections_total", "WebSockets accepted", [], (stats) => [[{}, stats.connections.total]]);
  total("channel_layers_messages_total", "Frames by direction", ["direction"], (stats) => [
    [{ direction: "in" }, stats.messages.in],
    [{ direction: "out" }, stats.messages.out],
  ]);
  total("channel_layers_rejected_total", "Handshakes refused, by reason", ["reason"], (stats) =>
    Object.entries(stats.rejected).map(([reason, count]) => [{ reason }, count ?? 0]),
  );
  total("channel_layers_drops_total", "Clients, frames and layer messages dropped, by reason", ["reason"], (stats) =>
    Object.entries(stats.drops).map(([reason, count]) => [{ reason }, count ?? 0]),
  );
}
