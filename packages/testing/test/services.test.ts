import { spawn } from "node:child_process";
import { existsSync, readFileSync, readlinkSync } from "node:fs";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import {
  hasLocalBinary,
  portAnswers,
  probeTcp,
  type ServiceKind,
  startService,
  type TestService,
} from "../src/index.js";
import { portOfUrl, roundTrip, withEnv } from "./round-trip.js";

const started: TestService[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((service) => service.stop()));
});

/** Session and process group ids of `pid`, from /proc. */
function sessionOf(pid: number): { pgrp: number; session: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const [, , pgrp, session] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { pgrp: Number(pgrp), session: Number(session) };
}

/** The data directory named on a running server's command line (redis-server rewrites it, but works in it). */
function dataDirOf(pid: number): string {
  const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  const flag = args.findIndex((arg) => arg === "-D" || arg === "-sd");
  return (flag >= 0 ? args[flag + 1] : undefined) ?? readlinkSync(`/proc/${pid}/cwd`);
}

/** A throwaway server from the local binary (containers turned off, whatever the machine has). */
function startLocal(kind: ServiceKind): Promise<TestService | undefined> {
  return withEnv({ CHANNEL_LAYERS_CONTAINERS: "0" }, () => startService(kind, { throwaway: true }));
}

const localServers = process.env.CHANNEL_LAYERS_LOCAL_SERVERS !== "0";

describe.each(["redis", "postgres", "nats"] as const)("a throwaway %s from the local binary", (kind) => {
  it.runIf(hasLocalBinary(kind) && localServers)(
    "runs in its own session, dies on kill -9, restarts on the same port and is gone after stop()",
    { timeout: 120_000 },
    async () => {
      const service = await startLocal(kind);
      if (!service) throw new Error(`${kind} did not start`);
      started.push(service);
      expect(service.source).toBe("local");
      const pid = service.pid as number;
      // setsid: the server leads its own session and process group; a signal to the group reaches nothing else.
      expect(sessionOf(pid)).toEqual({ pgrp: pid, session: pid });
      expect(await roundTrip[kind](service.url)).toBe(`${kind}-ok`);
      const dataDir = dataDirOf(pid);
      expect(dataDir).toMatch(/channel-layers-/);
      expect(existsSync(dataDir)).toBe(true);

      await service.kill();
      expect(service.pid).toBeUndefined();
      expect(await portAnswers(portOfUrl(service.url))).toBe(false);
      await expect(roundTrip[kind](service.url)).rejects.toThrow();

      const before = service.url;
      await service.restart();
      expect(service.url).toBe(before);
      expect(service.pid).not.toBe(pid);
      expect(await roundTrip[kind](service.url)).toBe(`${kind}-ok`);

      await service.stop();
      expect(await portAnswers(portOfUrl(service.url))).toBe(false);
      expect(existsSync(dataDir)).toBe(false);
    },
  );
});

describe.runIf(hasLocalBinary("redis") && localServers)("kill(signal)", () => {
  it("pauses a server with SIGSTOP and resumes it with SIGCONT", async () => {
    const service = (await startLocal("redis")) as TestService;
    started.push(service);
    const port = portOfUrl(service.url);
    await service.kill("SIGSTOP");
    expect(await probeTcp(port, "+PONG", "PING\r\n")).toBe(false);
    await service.kill("SIGCONT");
    expect(await probeTcp(port, "+PONG", "PING\r\n")).toBe(true);
  });
});

describe.runIf(hasLocalBinary("postgres") && localServers)("signalProcess", () => {
  it("signals a backend of the server, and refuses any process outside its process group", {
    timeout: 60_000,
  }, async () => {
    const service = (await startLocal("postgres")) as TestService;
    started.push(service);
    const client = new pg.Client({ connectionString: service.url });
    const ended = new Promise<Error>((resolve) => client.on("error", resolve));
    await client.connect();
    const backend = (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid as number;
    service.signalProcess(backend, "SIGTERM");
    expect((await ended).message).toMatch(/terminat/i);
    await client.end().catch(() => undefined);

    const stranger = spawn("sleep", ["60"], { stdio: "ignore" });
    try {
      expect(() => service.signalProcess(stranger.pid as number, "SIGKILL")).toThrow(/not part of/);
      expect(() => service.signalProcess(process.pid, "SIGKILL")).toThrow(/not part of/);
      expect(stranger.exitCode).toBeNull();
      expect(stranger.signalCode).toBeNull();
    } finally {
      stranger.kill("SIGKILL");
    }
  });
});

/** What /proc says of `pid`: gone, a zombie (exited, not yet reaped) or running. */
function processState(pid: number): "exited" | "zombie" | "running" {
  if (!existsSync(`/proc/${pid}/stat`)) return "exited";
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z") ? "zombie" : "running";
}

describe.runIf(hasLocalBinary("postgres") && localServers)("kill() of PostgreSQL", () => {
  it("resolves only once the backends have exited too, so a restart never finds their shared memory", {
    timeout: 90_000,
  }, async () => {
    const service = (await startLocal("postgres")) as TestService;
    started.push(service);
    for (let round = 0; round < 3; round++) {
      const client = new pg.Client({ connectionString: service.url });
      client.on("error", () => undefined);
      await client.connect();
      const backend = (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid as number;
      await service.kill();
      expect(processState(backend), `backend ${backend} after kill()`).toMatch(/^(exited|zombie)$/);
      await client.end().catch(() => undefined);
      await service.restart();
    }
  });
});

describe("the environment URL", () => {
  it("is preferred, and a shared server may not be killed, restarted or signalled", async () => {
    await withEnv({ REDIS_URL: "redis://127.0.0.1:1" }, async () => {
      const service = await startService("redis");
      expect(service?.source).toBe("env");
      expect(service?.url).toBe("redis://127.0.0.1:1");
      await expect(service?.kill()).rejects.toThrow(/shared/);
      await expect(service?.restart()).rejects.toThrow(/shared/);
      expect(() => service?.signalProcess(1234, "SIGTERM")).toThrow(/shared/);
      await service?.stop();
    });
  });

  it.runIf(hasLocalBinary("nats") && localServers)("is skipped for a throwaway server", async () => {
    const service = await withEnv({ NATS_URL: "nats://127.0.0.1:1" }, () => startLocal("nats"));
    if (!service) throw new Error("nats-server did not start");
    started.push(service);
    expect(service.source).toBe("local");
    expect(await roundTrip.nats(service.url)).toBe("nats-ok");
  });
});
