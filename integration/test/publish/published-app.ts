import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type CommandOutput, run } from "./run-command.js";
import { RUNNER_ONLY_ENTRY_POINTS } from "./workspace-packages.js";

export type PackageManager = "npm" | "pnpm";

const CHAT_APP = fileURLToPath(new URL("../../fixtures/published-app/chat.ts", import.meta.url));

/** A user's strictest reasonable tsconfig: strict, NodeNext, and the libraries' .d.ts checked too. */
const TSCONFIG = {
  compilerOptions: {
    strict: true,
    skipLibCheck: false,
    module: "nodenext",
    moduleResolution: "nodenext",
    target: "es2022",
    lib: ["es2023"],
    types: ["node"],
    rootDir: "src",
    outDir: "dist",
    noEmitOnError: true,
  },
  include: ["src"],
};

export interface PublishedAppOptions {
  dir: string;
  manager: PackageManager;
  /** The local registry that serves the @channel-layers scope; everything else comes from the usual one. */
  registryUrl: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  /** Entry points (e.g. "@channel-layers/core/conformance") that src/entry-points.ts imports. */
  entryPoints?: readonly string[];
  env: NodeJS.ProcessEnv;
  pnpmVersion: string;
}

/**
 * A project in a temp directory outside the workspace that depends on the published packages the
 * way a user's does: installed by npm or pnpm, compiled by its own tsc, run by plain node.
 */
export class PublishedApp {
  constructor(private readonly options: PublishedAppOptions) {
    const { dir, dependencies, devDependencies, registryUrl, entryPoints = [] } = options;
    mkdirSync(join(dir, "src"), { recursive: true });
    const manifest = { name: "published-app", private: true, type: "module", dependencies, devDependencies };
    writeFileSync(join(dir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    // prefer-online: npm's cache may hold another run's metadata for this registry URL.
    writeFileSync(join(dir, ".npmrc"), `@channel-layers:registry=${registryUrl}\nprefer-online=true\n`);
    writeFileSync(join(dir, "tsconfig.json"), `${JSON.stringify(TSCONFIG, null, 2)}\n`);
    cpSync(CHAT_APP, join(dir, "src", "chat.ts"));
    if (entryPoints.length > 0) writeFileSync(join(dir, "src", "entry-points.ts"), entryPointsModule(entryPoints));
  }

  get dir(): string {
    return this.options.dir;
  }

  /** Installs with the project's package manager; pnpm gets a store and cache of its own. */
  install(): Promise<CommandOutput> {
    const { dir, manager, env, pnpmVersion } = this.options;
    if (manager === "npm") return run("npm", ["install", "--no-audit", "--no-fund"], { cwd: dir, env });
    const pnpmArgs = ["--yes", `pnpm@${pnpmVersion}`, "install", "--no-frozen-lockfile"];
    pnpmArgs.push("--store-dir", join(dir, ".pnpm-store"), "--cache-dir", join(dir, ".pnpm-cache"));
    return run("npx", pnpmArgs, { cwd: dir, env });
  }

  /** The project's own tsc over src/ (strict, no skipLibCheck), emitting dist/. */
  typeCheck(): Promise<CommandOutput> {
    const tsc = join(this.dir, "node_modules", "typescript", "bin", "tsc");
    return run(process.execPath, [tsc, "-p", "."], { cwd: this.dir, env: this.options.env });
  }

  /** Plain `node` (no loader, no tsx) on a compiled file or a .cjs script. */
  node(file: string, env: NodeJS.ProcessEnv = {}): Promise<CommandOutput> {
    return run(process.execPath, [file], { cwd: this.dir, env: { ...this.options.env, ...env }, timeoutMs: 120_000 });
  }

  /** A CommonJS script that require()s each entry point: Node's require(esm), from 20.19 on. */
  writeRequireCheck(entryPoints: readonly string[]): string {
    const file = "require-entry-points.cjs";
    const lines = entryPoints
      .filter((name) => !RUNNER_ONLY_ENTRY_POINTS.includes(name))
      .map((name) => `console.log(${JSON.stringify(name)}, typeof require(${JSON.stringify(name)}));`);
    writeFileSync(join(this.dir, file), `${lines.join("\n")}\n`);
    return file;
  }
}

/** Imports every entry point, so tsc checks each one's .d.ts, and node loads each one's code. */
function entryPointsModule(entryPoints: readonly string[]): string {
  const loaded = entryPoints.filter((name) => !RUNNER_ONLY_ENTRY_POINTS.includes(name));
  const typeOnly = entryPoints.filter((name) => RUNNER_ONLY_ENTRY_POINTS.includes(name));
  const imports = loaded.map((name, index) => `import * as entry${index} from ${JSON.stringify(name)};`);
  const typeImports = typeOnly.map((name, index) => `import type * as typesOnly${index} from ${JSON.stringify(name)};`);
  const typeUses = typeOnly.map((_, index) => `export type TypesOnly${index} = keyof typeof typesOnly${index};`);
  const table = loaded.map((name, index) => `  ${JSON.stringify(name)}: entry${index},`);
  return [
    ...imports,
    ...typeImports,
    ...typeUses,
    "",
    "const entryPoints: Record<string, object> = {",
    ...table,
    "};",
    'for (const [name, module] of Object.entries(entryPoints)) console.log(name + ": " + Object.keys(module).length);',
    "",
  ].join("\n");
}
