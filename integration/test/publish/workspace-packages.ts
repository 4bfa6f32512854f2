import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const WORKSPACE = fileURLToPath(new URL("../../../", import.meta.url));

/** The fields of a package.json these tests read. */
export interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  packageManager?: string;
  exports?: Record<string, Record<string, string>>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [field: string]: unknown;
}

export function readManifest(dir: string): Manifest {
  return JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Manifest;
}

/** A package of packages/* that lerna publishes (not private). */
export interface PublishedPackage {
  /** Its folder under packages/. */
  folder: string;
  dir: string;
  manifest: Manifest;
}

/** Every publishable packages/* package, now and future: what the publish tests iterate. */
export function publishedPackages(): PublishedPackage[] {
  const root = join(WORKSPACE, "packages");
  return readdirSync(root)
    .filter((folder) => existsSync(join(root, folder, "package.json")))
    .map((folder) => ({ folder, dir: join(root, folder), manifest: readManifest(join(root, folder)) }))
    .filter(({ manifest }) => manifest.private !== true);
}

/** "@channel-layers/core" + "./conformance" -> "@channel-layers/core/conformance". */
export function entryPointSpecifiers(manifest: Manifest): string[] {
  return Object.keys(manifest.exports ?? { ".": {} })
    .filter((subpath) => !subpath.includes("*") && subpath !== "./package.json")
    .map((subpath) => (subpath === "." ? manifest.name : `${manifest.name}/${subpath.slice(2)}`));
}

/** Entry points that only load inside a vitest run (vitest's fixtures need its runner): type-checked, never loaded by plain node. */
export const RUNNER_ONLY_ENTRY_POINTS: readonly string[] = ["@channel-layers/testing/vitest"];

/** A package's commands: `bin` as a map, whichever form package.json uses. */
export function binTargets(manifest: Manifest): Record<string, string> {
  const { bin } = manifest;
  if (typeof bin === "string") return { [manifest.name.split("/").pop() ?? manifest.name]: bin };
  return (bin ?? {}) as Record<string, string>;
}

/** The pnpm version the workspace pins (packageManager), which the tests and the shim use. */
export function pinnedPnpmVersion(): string {
  const pinned = readManifest(WORKSPACE).packageManager ?? "";
  const version = /^pnpm@(.+)$/.exec(pinned)?.[1];
  if (!version) throw new Error(`The root package.json pins no pnpm version (packageManager is "${pinned}")`);
  return version;
}
