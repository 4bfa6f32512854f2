import { readFileSync } from "node:fs";

const REPOSITORY = new URL("../../../", import.meta.url);

/** A file of the repository, by its path from the root. */
export function repositoryFile(path: string): string {
  return readFileSync(new URL(path, REPOSITORY), "utf8");
}

/** The fenced code blocks of a markdown page: their language and text. */
export function fencedBlocks(markdown: string): { language: string; code: string }[] {
  return [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map(([, language = "", code = ""]) => ({
    language,
    code: code.trimEnd(),
  }));
}

/**
 * Which of a page's code blocks (in `languages`) is not one of `files` whole, and which of `files`
 * the page does not show: both empty when the page shows exactly the tested files.
 */
export function blocksNotFromFiles(
  page: string,
  languages: readonly string[],
  files: readonly string[],
): { strayBlocks: string[]; missingFiles: string[] } {
  const markdown = repositoryFile(page);
  const sources = new Map(files.map((file) => [repositoryFile(file).trimEnd(), file]));
  const shown = new Set<string>();
  const strayBlocks: string[] = [];
  for (const { language, code } of fencedBlocks(markdown)) {
    if (!languages.includes(language)) continue;
    const file = sources.get(code);
    if (file === undefined) strayBlocks.push(`${language}: ${code.split("\n")[0]}`);
    else shown.add(file);
  }
  return { strayBlocks, missingFiles: files.filter((file) => !shown.has(file)) };
}
