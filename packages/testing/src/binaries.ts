import { execFileSync } from "node:child_process";
import { accessSync, constants, readdirSync, statSync } from "node:fs";
import { delimiter, join } from "node:path";

/** Where server binaries live besides PATH: /usr/local, Homebrew (Apple silicon, Intel, Linux), Debian's sbin. */
const INSTALL_DIRS = [
  "/usr/local/bin",
  "/usr/local/sbin",
  "/opt/homebrew/bin",
  "/opt/homebrew/sbin",
  "/home/linuxbrew/.linuxbrew/bin",
  "/usr/bin",
  "/usr/sbin",
];

/** Where to look: `path` replaces $PATH, `root` prefixes every fixed install directory (for tests). */
export interface BinarySearch {
  path?: string;
  root?: string;
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function pathDirs(search: BinarySearch): string[] {
  return (search.path ?? process.env.PATH ?? "").split(delimiter).filter(Boolean);
}

function under(search: BinarySearch, dir: string): string {
  return search.root ? join(search.root, dir) : dir;
}

/** The first executable `name` on PATH, then in the usual install directories. */
export function findBinary(name: string, search: BinarySearch = {}): string | undefined {
  const dirs = [...pathDirs(search), ...INSTALL_DIRS.map((dir) => under(search, dir))];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** Subdirectories of `parent` whose names match `pattern` (its group 1 is a version), newest first. */
function versioned(parent: string, pattern: RegExp): string[] {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return [];
  }
  return names
    .map((name) => ({ name, version: Number(pattern.exec(name)?.[1] ?? Number.NaN) }))
    .filter(({ version }) => !Number.isNaN(version))
    .sort((a, b) => b.version - a.version)
    .map(({ name }) => join(parent, name));
}

function pgConfigBinDir(search: BinarySearch): string | undefined {
  const pgConfig = findBinary("pg_config", search);
  if (!pgConfig) return undefined;
  try {
    return execFileSync(pgConfig, ["--bindir"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return undefined;
  }
}

/**
 * The directory holding PostgreSQL's `postgres` and `initdb`, newest version first within each
 * place: PATH; `pg_config --bindir`; Debian/Ubuntu (/usr/lib/postgresql/<v>/bin); Homebrew
 * (/opt/homebrew and /usr/local, opt/postgresql@<v>/bin); the PGDG RPMs (/usr/pgsql-<v>/bin);
 * a source install (/usr/local/pgsql/bin); /usr/local/bin and Homebrew's bin.
 */
export function findPostgresBinDir(search: BinarySearch = {}): string | undefined {
  const homebrew = ["/opt/homebrew/opt", "/usr/local/opt"].flatMap((opt) => [
    ...versioned(under(search, opt), /^postgresql@(\d+(?:\.\d+)?)$/).map((dir) => join(dir, "bin")),
    join(under(search, opt), "postgresql", "bin"),
  ]);
  const candidates = [
    ...pathDirs(search),
    pgConfigBinDir(search),
    ...versioned(under(search, "/usr/lib/postgresql"), /^(\d+(?:\.\d+)?)$/).map((dir) => join(dir, "bin")),
    ...homebrew,
    ...versioned(under(search, "/usr"), /^pgsql-(\d+(?:\.\d+)?)$/).map((dir) => join(dir, "bin")),
    under(search, "/usr/local/pgsql/bin"),
    ...INSTALL_DIRS.map((dir) => under(search, dir)),
  ];
  return candidates.find(
    (dir) => dir !== undefined && isExecutableFile(join(dir, "postgres")) && isExecutableFile(join(dir, "initdb")),
  );
}
