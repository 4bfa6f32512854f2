import { defineConfig } from "vitest/config";

/** Each workspace folder with tests is one vitest project; all resolve workspace packages to src/. */
const projects = ["core", "memory", "redis", "postgres", "nats", "runtime", "client", "testing"].map((name) => ({
  extends: true as const,
  test: { name, root: `packages/${name}`, include: ["test/**/*.test.ts"] },
}));

export default defineConfig({
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"], externalConditions: ["source"] } },
  test: {
    projects: [
      ...projects,
      { extends: true, test: { name: "integration", root: "integration", include: ["test/**/*.test.ts"] } },
      { extends: true, test: { name: "examples", root: "examples", include: ["*/test/**/*.test.ts"] } },
    ],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    passWithNoTests: true,
  },
});
