import { readdir, readFile } from "node:fs/promises";

/** @channel-layers/client's TypeScript sources; the package ships them beside dist/. */
const CLIENT_SOURCES = new URL("../node_modules/@channel-layers/client/src/", import.meta.url);

let compiling: Promise<Map<string, string>> | undefined;

/**
 * @channel-layers/client as browser ES modules, by file name ("index.js"): its sources compiled
 * one file at a time on first use, so `pnpm start` needs no build step and never serves a stale
 * dist/. The files import each other by relative .js paths, so a page imports them as they are.
 */
export function clientModules(): Promise<Map<string, string>> {
  if (compiling === undefined) {
    compiling = compileClientModules();
    // A failed compile is not kept: the next request tries again and says why.
    compiling.catch(() => {
      compiling = undefined;
    });
  }
  return compiling;
}

async function compileClientModules(): Promise<Map<string, string>> {
  // TypeScript is big: loaded only when a page first asks for the client.
  const { default: ts } = await import("typescript");
  const modules = new Map<string, string>();
  for (const file of await readdir(CLIENT_SOURCES)) {
    if (!file.endsWith(".ts") || file.endsWith(".d.ts")) continue;
    const source = await readFile(new URL(file, CLIENT_SOURCES), "utf8");
    const { outputText } = ts.transpileModule(source, {
      fileName: file,
      compilerOptions: {
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.ESNext,
        verbatimModuleSyntax: true,
        inlineSourceMap: true,
        inlineSources: true,
      },
    });
    modules.set(file.replace(/\.ts$/, ".js"), outputText);
  }
  return modules;
}
