import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/** Keeps one stream on the shared NATS for good: see the file for the nats-server 2.9 race it avoids. */
const NATS_ANCHOR = fileURLToPath(new URL("packages/nats/test/shared-server-anchor.ts", import.meta.url));

/** Each workspace folder with tests is one vitest project; all resolve workspace packages to src/. */
const projects = ["core", "memory", "redis", "postgres", "nats", "runtime", "client", "testing"].map((name) => ({
  extends: true as const,
  test: {
    name,
    root: `packages/${name}`,
    include: ["test/**/*.test.ts"],
    ...(name === "nats" ? { globalSetup: [NATS_ANCHOR] } : {}),
  },
}));

export default defineConfig({
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"], externalConditions: ["source"] } },
  test: {
    projects: [
      ...projects,
      {
        extends: true,
        test: { name: "integration", root: "integration", include: ["test/**/*.test.ts"], globalSetup: [NATS_ANCHOR] },
      },
      { extends: true, test: { name: "examples", root: "examples", include: ["*/test/**/*.test.ts"] } },
    ],
    // Two files at a time. Vitest's default is one fewer than the cores (one, on the 2-core CI
    // machine), but most files here wait on servers, browsers and timers rather than compute.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    passWithNoTests: true,
  },
});
