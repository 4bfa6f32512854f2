import type { ChannelLayer } from "@channel-layers/core";
import { NatsChannelLayer } from "@channel-layers/nats";
import { PostgresChannelLayer } from "@channel-layers/postgres";
import { RedisChannelLayer } from "@channel-layers/redis";
import type { PeerConfig, StatsSnapshot } from "./protocol.js";

/** A layer as the peers use it: the contract, and stats() where the layer has it. */
export type FaultLayer = ChannelLayer & { stats?(): object };

/** A layer for `config`'s backend, server and prefix; the caller closes it. */
export function openLayer(config: PeerConfig): FaultLayer {
  const { backend, url, prefix, layerOptions } = config;
  if (backend === "redis") return new RedisChannelLayer({ hosts: [url], prefix, ...layerOptions });
  if (backend === "postgres") return new PostgresChannelLayer({ connectionString: url, prefix, ...layerOptions });
  return new NatsChannelLayer({ servers: url, prefix, ...layerOptions });
}

/** The numeric fields of the layer's stats(), or undefined for a layer without stats(). */
export function statsOf(layer: FaultLayer): StatsSnapshot | undefined {
  if (typeof layer.stats !== "function") return undefined;
  const numbers: StatsSnapshot = {};
  for (const [field, value] of Object.entries(layer.stats())) if (typeof value === "number") numbers[field] = value;
  return numbers;
}
