import { channelLayerConformance } from "@channel-layers/core/conformance";
import { PostgresChannelLayer, uninstall } from "@channel-layers/postgres";
import { afterAll, expect, it } from "vitest";
import { randomPrefix, testDatabase } from "./database.js";

const database = await testDatabase();
afterAll(() => database?.drop());

if (database) {
  const prefixes = new Set<string>();
  channelLayerConformance<PostgresChannelLayer>({
    name: "PostgresChannelLayer",
    crossInstance: true,
    // Without a prefix, database.layer() picks a random one: every such layer is isolated.
    factory: ({ sibling, ...options }) => {
      const layer = database.layer(sibling ? { ...options, prefix: sibling.names.prefix } : options);
      prefixes.add(layer.names.prefix);
      return layer;
    },
    dispose: (layer) =>
      uninstall({ connectionString: database.url, schema: database.schema, prefix: layer.names.prefix }),
    // Nothing listens on port 1.
    unreachableFactory: () =>
      new PostgresChannelLayer({ connectionString: "postgres://postgres@127.0.0.1:1/test", prefix: randomPrefix() }),
  });

  it("leaves no table or sequence behind for the prefixes the suite used", async () => {
    const { rows } = await database.query<{ relname: string }>(
      `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relkind IN ('r', 'S')`,
      [database.schema],
    );
    const left = rows.map((row) => row.relname).filter((name) => [...prefixes].some((p) => name.startsWith(`${p}_`)));
    expect(
      left,
      `tables and sequences left in ${database.schema} after the suite, of ${prefixes.size} prefixes`,
    ).toEqual([]);
  });
} else {
  it.skip("PostgresChannelLayer conformance: no PostgreSQL server (set DATABASE_URL)", () => undefined);
}
