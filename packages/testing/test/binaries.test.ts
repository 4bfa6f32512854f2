import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { findBinary, findPostgresBinDir } from "../src/index.js";

// Where the binaries are looked for, shown on a directory tree of empty executables laid out as
// each installer lays them out (under `root`), and on this machine's real installs.
const trees: string[] = [];
afterEach(() => {
  for (const tree of trees.splice(0)) rmSync(tree, { recursive: true, force: true });
});

function tree(executables: string[]): string {
  const root = mkdtempSync(join(tmpdir(), "channel-layers-binaries-"));
  trees.push(root);
  for (const path of executables) {
    const file = join(root, path);
    mkdirSync(join(file, ".."), { recursive: true });
    writeFileSync(file, "#!/bin/sh\nexit 0\n");
    chmodSync(file, 0o755);
  }
  return root;
}

const postgresIn = (dir: string) => [`${dir}/postgres`, `${dir}/initdb`];

describe("findPostgresBinDir", () => {
  it("takes Debian's newest /usr/lib/postgresql/<v>/bin", () => {
    const root = tree([...postgresIn("usr/lib/postgresql/9.6/bin"), ...postgresIn("usr/lib/postgresql/15/bin")]);
    expect(findPostgresBinDir({ root, path: "" })).toBe(join(root, "usr/lib/postgresql/15/bin"));
  });

  it("finds Homebrew's postgresql@<v> on Apple silicon and Intel, newest first", () => {
    const root = tree([
      ...postgresIn("usr/local/opt/postgresql@14/bin"),
      ...postgresIn("opt/homebrew/opt/postgresql@16/bin"),
    ]);
    expect(findPostgresBinDir({ root, path: "" })).toBe(join(root, "opt/homebrew/opt/postgresql@16/bin"));
    const intel = tree(postgresIn("usr/local/opt/postgresql@14/bin"));
    expect(findPostgresBinDir({ root: intel, path: "" })).toBe(join(intel, "usr/local/opt/postgresql@14/bin"));
  });

  it("finds /usr/local/bin and a source install in /usr/local/pgsql/bin", () => {
    const local = tree(postgresIn("usr/local/bin"));
    expect(findPostgresBinDir({ root: local, path: "" })).toBe(join(local, "usr/local/bin"));
    const source = tree(postgresIn("usr/local/pgsql/bin"));
    expect(findPostgresBinDir({ root: source, path: "" })).toBe(join(source, "usr/local/pgsql/bin"));
  });

  it("prefers PATH, and needs initdb beside postgres", () => {
    const root = tree([...postgresIn("usr/lib/postgresql/15/bin"), ...postgresIn("custom/bin"), "lonely/bin/postgres"]);
    expect(findPostgresBinDir({ root, path: join(root, "custom/bin") })).toBe(join(root, "custom/bin"));
    expect(findPostgresBinDir({ root, path: join(root, "lonely/bin") })).toBe(join(root, "usr/lib/postgresql/15/bin"));
    expect(findPostgresBinDir({ root: tree([]), path: "" })).toBeUndefined();
  });

  it.runIf(findBinary("pg_config") !== undefined)("agrees with `pg_config --bindir` on this machine", () => {
    const pgConfig = findBinary("pg_config") as string;
    const bindir = execFileSync(pgConfig, ["--bindir"], { encoding: "utf8" }).trim();
    const root = tree([]);
    // With nothing on PATH and no install roots, pg_config (found on the real PATH) decides.
    expect(findPostgresBinDir({ root, path: join(pgConfig, "..") })).toBe(bindir);
  });
});

describe("findBinary", () => {
  it("looks on PATH, then in Homebrew's and /usr/local's bin", () => {
    const root = tree(["opt/homebrew/bin/nats-server", "usr/local/bin/redis-server", "mine/redis-server"]);
    expect(findBinary("nats-server", { root, path: "" })).toBe(join(root, "opt/homebrew/bin/nats-server"));
    expect(findBinary("redis-server", { root, path: join(root, "mine") })).toBe(join(root, "mine/redis-server"));
    expect(findBinary("redis-server", { root, path: "" })).toBe(join(root, "usr/local/bin/redis-server"));
    expect(findBinary("redis-sentinel", { root, path: "" })).toBeUndefined();
  });
});
