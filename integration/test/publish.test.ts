import { execFileSync } from "node:child_process";
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { startService, type TestService } from "@channel-layers/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalRegistry, startLocalRegistry } from "./publish/local-registry.js";
import { PublishedApp } from "./publish/published-app.js";
import { ReleaseRepository } from "./publish/release-repository.js";
import { type CommandOutput, commandEnvironment, run } from "./publish/run-command.js";
import {
  binTargets,
  entryPointSpecifiers,
  type PublishedPackage,
  pinnedPnpmVersion,
  publishedPackages,
  RUNNER_ONLY_ENTRY_POINTS,
  readManifest,
  WORKSPACE,
} from "./publish/workspace-packages.js";

// The release as a user meets it: lerna publishes every packages/* package into a local registry,
// then apps outside the workspace install them with npm and with pnpm, compile against them with
// tsc --strict (no skipLibCheck) and run on plain node. Slow (a build and four installs), so one
// file with generous timeouts; a missing Redis fails it under CI=true like every backend test.
const STEP_TIMEOUT_MS = 600_000;

const packages = publishedPackages();
const pnpmVersion = pinnedPnpmVersion();
const root = readManifest(WORKSPACE);
const toolVersions = { typescript: "~5.9.3", "@types/node": "^20.19.0", ...root.devDependencies };

function workspaceStatus(): string {
  return execFileSync("git", ["status", "--porcelain"], { cwd: WORKSPACE }).toString();
}

/** What npm and pnpm print when a dependency's engines exclude this Node. */
function engineWarnings({ stdout, stderr }: CommandOutput): string[] {
  return `${stdout}\n${stderr}`.split("\n").filter((line) => /EBADENGINE|Unsupported engine/i.test(line));
}

/** Shows an install's warnings in the test log: what a user would see. */
function showWarnings(title: string, { stdout, stderr }: CommandOutput): void {
  const warnings = `${stdout}\n${stderr}`.split("\n").filter((line) => /warn|deprecat|ignored build/i.test(line));
  console.log(`${title}: ${warnings.length === 0 ? "no warnings" : `\n${warnings.join("\n")}`}`);
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)));
}

/** The installed copy holds every file its exports and bins name, its LICENSE and README, and no tests. */
function expectCompleteInstall(appDir: string, { manifest }: PublishedPackage): void {
  const installed = join(appDir, "node_modules", ...manifest.name.split("/"));
  const files = filesUnder(installed);
  expect(files, manifest.name).toEqual(expect.arrayContaining(["package.json", "README.md", "LICENSE"]));
  expect(
    files.filter((file) => /(^|\/)(test|__tests__)\/|\.(test|spec)\.[cm]?[jt]s/.test(file)),
    manifest.name,
  ).toEqual([]);
  for (const [name, target] of Object.entries(binTargets(manifest))) {
    const file = target.replace(/^\.\//, "");
    expect(files, `${manifest.name} bin ${name}`).toContain(file);
    expect(readFileSync(join(installed, file), "utf8")).toMatch(/^#!\/usr\/bin\/env node\n/);
  }
  for (const conditions of Object.values(manifest.exports ?? {})) {
    for (const target of Object.values(conditions)) expect(files, manifest.name).toContain(target.replace(/^\.\//, ""));
  }
}

/** Optional peers (vitest for the conformance suite) at the version the workspace itself uses. */
function peerDependencies(): Record<string, string> {
  const peers: Record<string, string> = {};
  for (const { manifest } of packages) {
    for (const [name, range] of Object.entries(manifest.peerDependencies ?? {})) {
      if (name.startsWith("@channel-layers/")) continue;
      peers[name] = root.devDependencies?.[name] ?? manifest.devDependencies?.[name] ?? range;
    }
  }
  return peers;
}

function nextPatch(version: string): string {
  const [major, minor, patch] = version.split(".").map(Number);
  return `${major}.${minor}.${Number(patch) + 1}`;
}

async function publishedVersions(registry: LocalRegistry, name: string): Promise<Record<string, PackageVersion>> {
  const response = await fetch(`${registry.url}${name.replace("/", "%2f")}`);
  expect(response.status, `${name} in the local registry`).toBe(200);
  return ((await response.json()) as { versions: Record<string, PackageVersion> }).versions;
}

interface PackageVersion {
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

describe("a release with lerna, installed from a registry", () => {
  let work = "";
  let env: NodeJS.ProcessEnv = {};
  let statusBefore = "";
  let registry: LocalRegistry | undefined;
  let redis: TestService | undefined;
  let repository: ReleaseRepository | undefined;

  beforeAll(async () => {
    statusBefore = workspaceStatus();
    work = mkdtempSync(join(tmpdir(), "channel-layers-publish-"));
    env = commandEnvironment(join(work, "bin"), pnpmVersion);
    redis = await startService("redis");
    registry = await startLocalRegistry(join(work, "registry"));
  }, STEP_TIMEOUT_MS);

  afterAll(async () => {
    await registry?.stop();
    await redis?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  function requireRegistry(): LocalRegistry {
    if (!registry) throw new Error("The local registry did not start");
    return registry;
  }

  function requireRepository(): ReleaseRepository {
    if (!repository) throw new Error("Nothing was published: the publish step failed");
    return repository;
  }

  it("builds every package and publishes it with lerna publish from-package", {
    timeout: STEP_TIMEOUT_MS,
  }, async () => {
    expect(packages.length).toBeGreaterThan(0);
    await run("pnpm", ["build"], { cwd: WORKSPACE, env });
    repository = await ReleaseRepository.create(join(work, "repository"), env);
    const { stdout } = await repository.lerna("publish", "from-package", "--yes", "--registry", requireRegistry().url);
    for (const { manifest } of packages) {
      expect(stdout).toContain(`${manifest.name}@${manifest.version}`);
      const published = (await publishedVersions(requireRegistry(), manifest.name))[manifest.version];
      // lerna rewrites `workspace:` ranges in dependencies only: a peer range must be written out.
      const ranges = { ...published?.dependencies, ...published?.peerDependencies, ...published?.optionalDependencies };
      expect(JSON.stringify(ranges), manifest.name).not.toContain("workspace:");
    }
  });

  it("installs every package with npm; tsc --strict checks every entry point; plain node runs them and the chat", {
    timeout: STEP_TIMEOUT_MS,
  }, async (context) => {
    requireRepository();
    const entryPoints = packages.flatMap(({ manifest }) => entryPointSpecifiers(manifest));
    const app = new PublishedApp({
      dir: join(work, "npm-app"),
      manager: "npm",
      registryUrl: requireRegistry().url,
      dependencies: Object.fromEntries(packages.map(({ manifest }) => [manifest.name, manifest.version])),
      devDependencies: {
        typescript: toolVersions.typescript,
        "@types/node": toolVersions["@types/node"],
        ...peerDependencies(),
      },
      entryPoints,
      env,
      pnpmVersion,
    });
    const installed = await app.install();
    showWarnings("npm install", installed);
    expect(engineWarnings(installed)).toEqual([]);
    for (const published of packages) expectCompleteInstall(app.dir, published);

    await app.typeCheck();
    const loaded = await app.node("dist/entry-points.js");
    const loadable = entryPoints.filter((name) => !RUNNER_ONLY_ENTRY_POINTS.includes(name));
    for (const name of loadable) expect(loaded.stdout).toContain(`${name}: `);
    // CommonJS users: require() of these ESM-only packages works where Node has require(esm).
    if (process.features.require_module) {
      const required = await app.node(app.writeRequireCheck(entryPoints));
      for (const name of loadable) expect(required.stdout).toContain(`${name} object`);
    }

    if (!redis) return context.skip("no Redis server (set REDIS_URL); CI=true makes this a failure");
    const chat = await app.node("dist/chat.js", { REDIS_URL: redis.url });
    expect(chat.stdout).toContain('listener received {"message":"hello from the published packages"}');
  });

  it("installs runtime and redis with pnpm; tsc --strict checks the chat app; plain node runs it", {
    timeout: STEP_TIMEOUT_MS,
  }, async (context) => {
    requireRepository();
    const wanted = ["@channel-layers/runtime", "@channel-layers/redis"];
    const versions = new Map(packages.map(({ manifest }) => [manifest.name, manifest.version]));
    const app = new PublishedApp({
      dir: join(work, "pnpm-app"),
      manager: "pnpm",
      registryUrl: requireRegistry().url,
      dependencies: Object.fromEntries(wanted.map((name) => [name, versions.get(name) ?? "missing"])),
      devDependencies: { typescript: toolVersions.typescript, "@types/node": toolVersions["@types/node"] },
      env,
      pnpmVersion,
    });
    const installed = await app.install();
    showWarnings("pnpm install", installed);
    expect(engineWarnings(installed)).toEqual([]);

    await app.typeCheck();
    if (!redis) return context.skip("no Redis server (set REDIS_URL); CI=true makes this a failure");
    const chat = await app.node("dist/chat.js", { REDIS_URL: redis.url });
    expect(chat.stdout).toContain('listener received {"message":"hello from the published packages"}');
  });

  it("lerna version turns a fix commit into a patch with a changelog, a commit and a tag; publish sends it", {
    timeout: STEP_TIMEOUT_MS,
  }, async () => {
    const release = requireRepository();
    const fixed = packages.find(({ folder }) => folder === "redis") ?? packages[0];
    if (!fixed) throw new Error("No package to release");
    const before = release.lernaVersion();
    const next = nextPatch(before);
    appendFileSync(join(release.dir, "packages", fixed.folder, "README.md"), "\n");
    await release.git("commit", "-q", "-am", `fix(${fixed.folder}): a fix for the release rehearsal`);

    await release.lerna("version", "--yes", "--no-push");

    expect(release.lernaVersion()).toBe(next);
    expect(readManifest(join(release.dir, "packages", fixed.folder)).version).toBe(next);
    const changelog = release.read(`packages/${fixed.folder}/CHANGELOG.md`);
    expect(changelog).toContain(`## [${next}]`);
    expect(changelog).toMatch(/### Bug Fixes[\s\S]*a fix for the release rehearsal/);
    expect((await release.git("tag", "--list")).stdout.split("\n")).toContain(`v${next}`);
    expect((await release.git("log", "-1", "--format=%s")).stdout.trim()).toBe(`chore(release): publish v${next}`);
    expect((await release.git("status", "--porcelain")).stdout).toBe("");

    const { stdout } = await release.lerna("publish", "from-package", "--yes", "--registry", requireRegistry().url);
    expect(stdout).toContain(`${fixed.manifest.name}@${next}`);
    expect(Object.keys(await publishedVersions(requireRegistry(), fixed.manifest.name))).toContain(next);
  });

  it("leaves the workspace's working tree as it found it", () => {
    expect(workspaceStatus()).toBe(statusBefore);
  });
});
