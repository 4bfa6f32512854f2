import { connect as natsConnect } from "@nats-io/transport-node";
import { Redis } from "ioredis";
import pg from "pg";
import type { ServiceKind } from "../src/index.js";

/** Writes something through a real client of each server and reads it back. */
export const roundTrip: Record<ServiceKind, (url: string) => Promise<string>> = {
  async redis(url) {
    const client = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
    client.on("error", () => undefined);
    try {
      await client.connect();
      await client.set("probe", "redis-ok");
      return (await client.get("probe")) ?? "";
    } finally {
      client.disconnect();
    }
  },
  async postgres(url) {
    const client = new pg.Client({ connectionString: url });
    client.on("error", () => undefined);
    await client.connect();
    try {
      const result = await client.query<{ answer: string }>("SELECT 'postgres-ok' AS answer");
      return result.rows[0]?.answer ?? "";
    } finally {
      await client.end();
    }
  },
  async nats(url) {
    const connection = await natsConnect({ servers: url, reconnect: false });
    try {
      const subscription = connection.subscribe("probe", { max: 1 });
      connection.publish("probe", "nats-ok");
      for await (const message of subscription) return message.string();
      return "";
    } finally {
      await connection.close();
    }
  },
};

export function portOfUrl(url: string): number {
  return Number(new URL(url).port);
}

/** Sets environment variables for the length of `body`, then puts the old values back. */
export async function withEnv<T>(values: Record<string, string | undefined>, body: () => Promise<T>): Promise<T> {
  const previous = Object.fromEntries(Object.keys(values).map((key) => [key, process.env[key]]));
  const assign = (entries: Record<string, string | undefined>) => {
    for (const [key, value] of Object.entries(entries)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
  assign(values);
  try {
    return await body();
  } finally {
    assign(previous);
  }
}
