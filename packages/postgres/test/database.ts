import { randomBytes } from "node:crypto";
import { PostgresChannelLayer, type PostgresChannelLayerOptions } from "@channel-layers/postgres";
import { startService, type TestService } from "@channel-layers/testing";
import pg from "pg";

/**
 * A PostgreSQL server for one test file and a schema of its own in it: DATABASE_URL (the shared
 * server) when set, else a throwaway server. Every layer the file makes gets a random prefix, so
 * files and tests never share rows, and drop() removes the schema with all of their tables.
 */
export interface TestDatabase {
  readonly url: string;
  readonly schema: string;
  readonly service: TestService;
  /** A layer on this file's schema with a fresh random prefix (unless `options.prefix`); closed by the caller. */
  layer(options?: PostgresChannelLayerOptions): PostgresChannelLayer;
  /** Runs one statement on a short-lived connection. */
  query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
  drop(): Promise<void>;
}

export function randomPrefix(): string {
  return `t${randomBytes(5).toString("hex")}`;
}

export async function testDatabase(options: { throwaway?: boolean } = {}): Promise<TestDatabase | undefined> {
  const service = await startService("postgres", options);
  if (service === undefined) return undefined;
  const schema = `cl_test_${randomBytes(5).toString("hex")}`;
  const query = async <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => {
    const client = new pg.Client({ connectionString: service.url });
    await client.connect();
    try {
      return await client.query<R>(text, values);
    } finally {
      await client.end();
    }
  };
  return {
    url: service.url,
    schema,
    service,
    layer: (layerOptions = {}) =>
      new PostgresChannelLayer({
        connectionString: service.url,
        schema,
        prefix: randomPrefix(),
        poolSize: 4,
        ...layerOptions,
      }),
    query,
    async drop() {
      await query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
      await service.stop();
    },
  };
}
