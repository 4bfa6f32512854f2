import { channelLayerConformance } from "@channel-layers/core/conformance";
import { afterAll, it } from "vitest";
import { testDatabase } from "./database.js";

const database = await testDatabase();
afterAll(() => database?.drop());

if (database) {
  channelLayerConformance({
    name: "PostgresChannelLayer",
    crossInstance: true,
    // Without a prefix, database.layer() picks a random one: every such layer is isolated.
    factory: ({ prefix, ...options }) => database.layer(prefix === undefined ? options : { ...options, prefix }),
  });
} else {
  it.skip("PostgresChannelLayer conformance: no PostgreSQL server (set DATABASE_URL)", () => undefined);
}
