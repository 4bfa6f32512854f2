import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { type CommandOutput, run } from "./run-command.js";
import { publishedPackages, WORKSPACE } from "./workspace-packages.js";

/**
 * A git repository in a temp directory holding the workspace as it is now (tracked and untracked
 * files that are not ignored, plus each package's built dist/), committed and tagged with the
 * current version. lerna publishes and versions from it, so the real working tree is never
 * touched: lerna rewrites package.json files while publishing, and refuses a dirty tree.
 */
export class ReleaseRepository {
  private constructor(
    readonly dir: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  static async create(dir: string, env: NodeJS.ProcessEnv): Promise<ReleaseRepository> {
    const listed = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
      cwd: WORKSPACE,
      maxBuffer: 64 * 1024 * 1024,
    });
    const files = listed.toString().split("\0").filter(Boolean);
    for (const file of files) {
      const from = join(WORKSPACE, file);
      if (!existsSync(from)) continue; // deleted but not yet committed
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      cpSync(from, join(dir, file));
    }
    for (const { dir: packageDir, folder } of publishedPackages()) {
      cpSync(join(packageDir, "dist"), join(dir, "packages", folder, "dist"), { recursive: true });
    }
    const repository = new ReleaseRepository(dir, env);
    const version = repository.lernaVersion();
    await repository.git("init", "-q", "-b", "main");
    await repository.git("add", "-A"); // dist/ stays ignored, as in the real repository
    await repository.git("commit", "-q", "-m", "feat: the workspace as it stands");
    await repository.git("tag", "-a", `v${version}`, "-m", `v${version}`);
    return repository;
  }

  /** The version in lerna.json (fixed mode: every package's). */
  lernaVersion(): string {
    return (JSON.parse(this.read("lerna.json")) as { version: string }).version;
  }

  read(file: string): string {
    return readFileSync(join(this.dir, file), "utf8");
  }

  git(...args: string[]): Promise<CommandOutput> {
    return run("git", args, { cwd: this.dir, env: this.env });
  }

  /** The workspace's own lerna, run in this repository. */
  lerna(...args: string[]): Promise<CommandOutput> {
    const cli = join(WORKSPACE, "node_modules", "lerna", "dist", "cli.js");
    return run(process.execPath, [cli, ...args], { cwd: this.dir, env: this.env });
  }
}
