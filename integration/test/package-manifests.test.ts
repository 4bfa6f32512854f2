import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { binTargets, type Manifest, publishedPackages, readManifest, WORKSPACE } from "./publish/workspace-packages.js";

// What makes a packages/* package publishable as it stands, checked for every one (a new package
// is covered the day it is added). publish.test.ts then proves it with a real registry and installs.
const root = readManifest(WORKSPACE);
const rootLicense = readFileSync(join(WORKSPACE, "LICENSE"), "utf8");
const CONDITIONS = ["source", "types", "import", "default"];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** "ws" -> "ws", "@nats-io/jetstream/lib/x" -> "@nats-io/jetstream"; undefined for relative and node: imports. */
function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith(".") || specifier.startsWith("node:")) return undefined;
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

/** Every package that src/ imports (import, export from, import type, dynamic import). */
function importedPackages(srcDir: string): Set<string> {
  const found = new Set<string>();
  const statement = String.raw`^\s*(?:import|export)\b[^;'"]*?\bfrom\s*["']([^"']+)["']`;
  const bare = String.raw`^\s*import\s*["']([^"']+)["']`;
  const dynamic = String.raw`\bimport\(\s*["']([^"']+)["']\s*\)`;
  const pattern = new RegExp(`${statement}|${bare}|${dynamic}`, "gm");
  for (const file of sourceFiles(srcDir)) {
    for (const match of readFileSync(file, "utf8").matchAll(pattern)) {
      const specifier = match[1] ?? match[2] ?? match[3];
      const name = specifier ? packageOf(specifier) : undefined;
      if (name) found.add(name);
    }
  }
  return found;
}

/** Whether an installed dependency carries its own .d.ts (else its @types package must be a dependency). */
function shipsTypes(packageDir: string, dependency: string): boolean {
  const dir = join(packageDir, "node_modules", dependency);
  const manifest = readManifest(dir);
  return (
    typeof manifest.types === "string" ||
    typeof manifest.typings === "string" ||
    JSON.stringify(manifest.exports ?? {}).includes('"types"') ||
    existsSync(join(dir, "index.d.ts"))
  );
}

function typesPackage(dependency: string): string {
  return `@types/${dependency.startsWith("@") ? dependency.slice(1).replace("/", "__") : dependency}`;
}

describe.each(publishedPackages())("packages/$folder", ({ folder, dir, manifest }) => {
  it("says what it is, where it lives and under which licence", () => {
    expect(manifest.description).toEqual(expect.any(String));
    expect(manifest.keywords).toEqual(expect.arrayContaining(["django-channels"]));
    expect(manifest.license).toBe("BSD-3-Clause");
    expect(readFileSync(join(dir, "LICENSE"), "utf8")).toBe(rootLicense);
    expect(manifest.author).toBe("channel-layers contributors");
    expect(manifest.repository).toEqual({ ...(root.repository as object), directory: `packages/${folder}` });
    expect(manifest.homepage).toBe(
      `${String(root.homepage).replace(/#readme$/, "")}/tree/main/packages/${folder}#readme`,
    );
    expect(manifest.bugs).toEqual(expect.objectContaining({ url: expect.any(String) }));
  });

  it("publishes publicly: ESM, side-effect free, on the Node versions the workspace supports", () => {
    expect(manifest.publishConfig).toEqual({ access: "public" });
    expect(manifest.type).toBe("module");
    expect(manifest.sideEffects).toBe(false);
    expect(manifest.engines).toEqual(root.engines);
    expect(readFileSync(join(dir, "README.md"), "utf8")).toContain("ESM-only");
  });

  it("ships dist/ built by tsc from src/, and every export names source, types, import and default", () => {
    expect(manifest.files).toEqual(expect.arrayContaining(["dist", "README.md", "LICENSE"]));
    expect((manifest.scripts as Record<string, string>).build).toBe("tsc -p tsconfig.json");
    const tsconfig = JSON.parse(readFileSync(join(dir, "tsconfig.json"), "utf8")) as {
      compilerOptions: { rootDir: string; outDir: string };
      include: string[];
    };
    expect(tsconfig.compilerOptions).toMatchObject({ rootDir: "src", outDir: "dist" });
    expect(tsconfig.include).toEqual(["src"]);
    const exportsMap = manifest.exports ?? {};
    expect(Object.keys(exportsMap)).toContain(".");
    for (const [subpath, conditions] of Object.entries(exportsMap)) {
      expect(Object.keys(conditions), subpath).toEqual(CONDITIONS);
      const source = conditions.source ?? "";
      expect(existsSync(join(dir, source)), `${subpath}: ${source}`).toBe(true);
      const built = `./dist/${relative("src", source.replace(/^\.\//, "")).replace(/\.ts$/, "")}`;
      expect(conditions, subpath).toEqual({
        source,
        types: `${built}.d.ts`,
        import: `${built}.js`,
        default: `${built}.js`,
      });
    }
    for (const [name, target] of Object.entries(binTargets(manifest))) {
      // A committed bin/<x>.js imports the compiled dist/<x>.js, built from src/<x>.ts.
      expect(target, `bin ${name}`).toMatch(/^\.\/bin\/.+\.js$/);
      const script = readFileSync(join(dir, target), "utf8");
      expect(script, `bin ${name}`).toMatch(/^#!\/usr\/bin\/env node\n/);
      const imported = /^import "\.\.\/dist\/(.+)\.js";$/m.exec(script)?.[1];
      expect(imported, `bin ${name} imports ../dist/<module>.js`).toBeDefined();
      expect(existsSync(join(dir, "src", `${imported}.ts`)), `bin ${name}: src/${imported}.ts`).toBe(true);
    }
    expect({ main: manifest.main, types: manifest.types }).toEqual({
      main: exportsMap["."]?.import,
      types: exportsMap["."]?.types,
    });
  });

  it("depends on everything src/ imports, with the types of each (a user's tsc reads them)", () => {
    const dependencies = manifest.dependencies ?? {};
    const allowed = new Set([
      manifest.name,
      ...Object.keys(dependencies),
      ...Object.keys(manifest.peerDependencies ?? {}),
    ]);
    const imported = [...importedPackages(join(dir, "src"))];
    expect(imported.filter((name) => !allowed.has(name))).toEqual([]);
    const untyped = Object.keys(dependencies).filter(
      (name) => !name.startsWith("@types/") && !name.startsWith("@channel-layers/") && !shipsTypes(dir, name),
    );
    expect(untyped.filter((name) => !(typesPackage(name) in dependencies))).toEqual([]);
  });
});

describe("the root", () => {
  it("carries the BSD-3-Clause licence of every package", () => {
    expect(rootLicense).toMatch(/^BSD 3-Clause License\n\nCopyright \(c\) \d{4}, channel-layers contributors\n/);
    expect((root as Manifest).license).toBe("BSD-3-Clause");
  });
});
