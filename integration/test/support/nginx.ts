import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { portAnswers, ServerProcess, waitFor } from "@channel-layers/testing";

/** Debian's nginx (package nginx, which .ci/run installs). */
export const NGINX = "/usr/sbin/nginx";

/** The site config docs/deployment.md shows, as a file. */
export const NGINX_SITE = new URL("../deployment/nginx-chat.conf", import.meta.url);

/** Replaces `from` in `text` exactly `times` times, so a change to the docs' config that breaks the test's edits fails loudly. */
function replaceExactly(text: string, from: string, to: string, times: number): string {
  const found = text.split(from).length - 1;
  if (found !== times)
    throw new Error(`Expected ${times} of ${JSON.stringify(from)} in the nginx config; found ${found}`);
  return text.replaceAll(from, to);
}

/** Where the test's nginx listens and proxies to. */
export interface NginxPorts {
  /** The docs' server block, proxying to the upstream of both processes. */
  shared: number;
  /** Copies of that server block, each proxying to one process only (pinned[i] -> processes[i]). */
  pinned: [number, number];
  /** The two example processes (the docs' 8001 and 8002). */
  processes: [number, number];
}

/**
 * The docs' site config with the test's ports, plus two copies of its server block that each
 * proxy to one process: a browser page on a pinned port is known to be on that process.
 */
export function siteConfig(ports: NginxPorts): string {
  let site = readFileSync(NGINX_SITE, "utf8");
  site = replaceExactly(site, "server 127.0.0.1:8001 ", `server 127.0.0.1:${ports.processes[0]} `, 1);
  site = replaceExactly(site, "server 127.0.0.1:8002 ", `server 127.0.0.1:${ports.processes[1]} `, 1);
  const serverBlock = /^server \{\n[\s\S]*?^\}\n/m.exec(site)?.[0];
  if (serverBlock === undefined) throw new Error("No server { ... } block in the nginx config");
  const pinned = ports.pinned.map((port, index) => {
    const block = replaceExactly(serverBlock, "    listen 80;", `    listen 127.0.0.1:${port};`, 1);
    return replaceExactly(
      block,
      "proxy_pass http://chat;",
      `proxy_pass http://127.0.0.1:${ports.processes[index]};`,
      2,
    );
  });
  site = replaceExactly(site, "    listen 80;", `    listen 127.0.0.1:${ports.shared};`, 1);
  return [site, ...pinned].join("\n");
}

/** nginx run as a throwaway process: its config, pid, logs and temp files in a directory of its own. */
export class ThrowawayNginx {
  private constructor(
    readonly directory: string,
    private readonly process: ServerProcess,
  ) {}

  /** Starts nginx with `site` in its http block; resolves once every port answers. */
  static async start(site: string, ports: readonly number[]): Promise<ThrowawayNginx> {
    const directory = await mkdtemp(join(tmpdir(), "nginx-"));
    // Workers run as nobody when the master is root: they must reach their temp directories.
    await chmod(directory, 0o755);
    const path = (name: string) => join(directory, name);
    await writeFile(path("site.conf"), site);
    await writeFile(
      path("nginx.conf"),
      [
        "worker_processes 1;",
        `pid ${path("nginx.pid")};`,
        `error_log ${path("error.log")} info;`,
        "events { worker_connections 512; }",
        "http {",
        `    access_log ${path("access.log")};`,
        ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map(
          (kind) => `    ${kind}_temp_path ${path(`${kind}-temp`)};`,
        ),
        "    include site.conf;",
        "}",
        "",
      ].join("\n"),
    );
    const nginx = new ServerProcess({
      command: NGINX,
      args: ["-p", directory, "-c", path("nginx.conf"), "-e", path("error.log"), "-g", "daemon off;"],
      ready: () =>
        waitFor("nginx to listen", async () =>
          (await Promise.all(ports.map((port) => portAnswers(port)))).every(Boolean),
        ),
    });
    try {
      await nginx.start();
    } catch (error) {
      const log = existsSync(path("error.log")) ? readFileSync(path("error.log"), "utf8") : "";
      await rm(directory, { recursive: true, force: true });
      throw new Error(`nginx did not start: ${String(error)}\n${log}`);
    }
    return new ThrowawayNginx(directory, nginx);
  }

  /** Its error log, for failure messages. */
  errorLog(): string {
    const file = join(this.directory, "error.log");
    return existsSync(file) ? readFileSync(file, "utf8").slice(-4000) : "";
  }

  /** Stops nginx (SIGTERM to its own process group, SIGKILL after 10 s) and removes its directory. */
  async stop(): Promise<void> {
    await this.process.stop();
    await rm(this.directory, { recursive: true, force: true });
  }
}
