import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { freePort, ServerProcess, waitFor } from "@channel-layers/testing";

/** A verdaccio we started: `url` ends with a slash, as npm writes registry URLs. */
export interface LocalRegistry {
  url: string;
  stop(): Promise<void>;
}

/** verdaccio's bin, from integration's devDependencies (so `.ci/run`'s install provides it). */
function verdaccioBin(): string {
  const manifestPath = createRequire(import.meta.url).resolve("verdaccio/package.json");
  const { bin } = JSON.parse(readFileSync(manifestPath, "utf8")) as { bin: string | Record<string, string> };
  const relative = typeof bin === "string" ? bin : bin.verdaccio;
  if (!relative) throw new Error(`verdaccio's package.json at ${manifestPath} names no bin`);
  return join(dirname(manifestPath), relative);
}

/**
 * Starts verdaccio on a free port with its config and storage under `dir`. It holds only the
 * @channel-layers scope (anyone may publish there) and proxies nothing: the apps' .npmrc sends that
 * scope here and everything else to the usual registry.
 */
export async function startLocalRegistry(dir: string): Promise<LocalRegistry> {
  mkdirSync(join(dir, "storage"), { recursive: true });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  const config = join(dir, "config.yaml");
  writeFileSync(
    config,
    [
      `storage: ${JSON.stringify(join(dir, "storage"))}`,
      "auth:",
      "  htpasswd:",
      `    file: ${JSON.stringify(join(dir, "htpasswd"))}`,
      "    max_users: -1",
      "uplinks: {}",
      "packages:",
      "  '@channel-layers/*':",
      "    access: $all",
      "    publish: $anonymous",
      "  '**':",
      "    access: $all",
      "max_body_size: 100mb",
      "log: { type: stdout, format: pretty, level: warn }",
      "",
    ].join("\n"),
  );
  const server = new ServerProcess({
    command: process.execPath,
    args: [verdaccioBin(), "--config", config, "--listen", `127.0.0.1:${port}`],
    ready: () => waitFor(`verdaccio on port ${port}`, async () => (await fetch(`${url}-/ping`)).ok, 60_000),
  });
  await server.start();
  return { url, stop: () => server.stop() };
}
