import { deletePrefixStreams } from "@channel-layers/nats";
import { uninstall } from "@channel-layers/postgres";
import type { ServiceKind } from "@channel-layers/testing";
import { connect } from "@nats-io/transport-node";
import { Redis } from "ioredis";

/** Removes what a layer prefix left on a shared server: Redis keys, PostgreSQL tables, JetStream streams. */
export async function removePrefix(kind: ServiceKind, url: string, prefix: string): Promise<void> {
  if (kind === "redis") {
    const client = new Redis(url);
    try {
      const keys = await client.keys(`${prefix}*`);
      if (keys.length > 0) await client.del(...keys);
    } finally {
      client.disconnect();
    }
  }
  if (kind === "postgres") await uninstall({ connectionString: url, prefix });
  if (kind === "nats") {
    const connection = await connect({ servers: url });
    try {
      await deletePrefixStreams(connection, prefix);
    } finally {
      await connection.close();
    }
  }
}
