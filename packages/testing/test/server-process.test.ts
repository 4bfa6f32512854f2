import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, describe, expect, it, vi } from "vitest";
import { findBinary, ServerProcess, waitFor } from "../src/index.js";
import { sendSignal } from "../src/process-group.js";

const run = promisify(execFile);

afterEach(() => {
  vi.restoreAllMocks();
});

/** A "server" that is ready at once and runs until signalled. */
function sleeper(seconds = 600): ServerProcess {
  return new ServerProcess({ command: "sleep", args: [String(seconds)], ready: async () => undefined });
}

/** Whether `pid` is gone or a zombie: no longer running. */
function ended(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

describe("ServerProcess", () => {
  it("signals nothing once its child has exited: the pid may already belong to someone else", async () => {
    const server = new ServerProcess({ command: "true", args: [], ready: () => new Promise(() => undefined) });
    await expect(server.start()).rejects.toThrow(/exited \(code 0\) while starting/);
    expect(server.isRunning).toBe(false);
    const kill = vi.spyOn(process, "kill");
    await server.kill();
    await server.kill("SIGTERM");
    await server.stop();
    server.killNow();
    expect(kill).not.toHaveBeenCalled();
  });

  it("signals only its own process group, by the negative pid of the child it spawned", async () => {
    const server = sleeper();
    await server.start();
    const pid = server.pid as number;
    const kill = vi.spyOn(process, "kill");
    await server.kill("SIGTERM");
    expect(kill.mock.calls).toEqual([[-pid, "SIGTERM"]]);
    expect(server.isRunning).toBe(false);
    await server.kill();
    expect(kill).toHaveBeenCalledTimes(1);
  });

  it("stops listening for process exit once none of its servers runs", async () => {
    const before = process.listenerCount("exit");
    const servers = [sleeper(), sleeper()];
    await Promise.all(servers.map((server) => server.start()));
    expect(process.listenerCount("exit")).toBe(before + 1);
    await Promise.all(servers.map((server) => server.stop()));
    expect(process.listenerCount("exit")).toBe(before);
  });

  describe("when the process that started them ends", () => {
    const source = fileURLToPath(new URL("../src/server-process.ts", import.meta.url));
    const script = (then: string) =>
      [
        `import { ServerProcess } from ${JSON.stringify(source)};`,
        "const server = new ServerProcess({ command: 'sleep', args: ['600'], ready: async () => undefined });",
        "await server.start();",
        "console.log(server.pid);",
        then,
      ].join("\n");

    it("ends its servers when that process exits", { timeout: 30_000 }, async () => {
      const { stdout } = await run(process.execPath, [
        "--import",
        "tsx",
        "--input-type=module",
        "-e",
        script("process.exit(0);"),
      ]);
      const pid = Number(stdout.trim());
      expect(pid).toBeGreaterThan(1);
      await waitFor(`sleep ${pid} to end`, async () => ended(pid), 10_000);
    });

    it.runIf(process.platform === "linux" && findBinary("setpriv") !== undefined)(
      "ends its servers when that process is killed outright (no exit handler runs)",
      { timeout: 30_000 },
      async () => {
        const child = spawn(
          process.execPath,
          ["--import", "tsx", "--input-type=module", "-e", script("setInterval(() => {}, 1000);")],
          {
            stdio: ["ignore", "pipe", "inherit"],
          },
        );
        const [line] = (await once(child.stdout, "data")) as [Buffer];
        const pid = Number(line.toString().trim());
        expect(pid).toBeGreaterThan(1);
        expect(ended(pid)).toBe(false);
        child.kill("SIGKILL");
        await waitFor(`sleep ${pid} to end`, async () => ended(pid), 10_000);
      },
    );
  });
});

describe("sendSignal", () => {
  it("refuses 0, 1 and -1 (our own group, init, every process we may signal)", () => {
    const kill = vi.spyOn(process, "kill");
    for (const target of [0, 1, -1, Number.NaN]) expect(() => sendSignal(target, "SIGKILL")).toThrow(/Refusing/);
    expect(kill).not.toHaveBeenCalled();
  });
});
