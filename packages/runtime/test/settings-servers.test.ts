import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChannelLayer } from "@channel-layers/core";
import { uninstall } from "@channel-layers/postgres";
import { freePort, probeTcp, ServerProcess, startService, type TestService, waitFor } from "@channel-layers/testing";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { createChannelLayer } from "../src/index.js";

// Each scheme of the settings URL against a real server: the shared ones (REDIS_URL, DATABASE_URL,
// NATS_URL) for options, throwaway ones for credentials and Sentinel.
const services: TestService[] = [];
const layers: ChannelLayer[] = [];
const stops: (() => Promise<void>)[] = [];
afterAll(async () => {
  await Promise.allSettled(layers.map((layer) => layer.close()));
  for (const stop of stops.reverse()) await stop();
  await Promise.all(services.map((service) => service.stop()));
});

async function service(kind: "redis" | "postgres" | "nats", args?: string[]): Promise<TestService> {
  const found = args === undefined ? await startService(kind) : await startService(kind, { throwaway: true, args });
  if (found === undefined) throw new Error(`No ${kind} server (set ${kind.toUpperCase()}_URL)`);
  services.push(found);
  return found;
}

async function layerFrom(url: string): Promise<ChannelLayer> {
  const layer = await createChannelLayer(url);
  layers.push(layer);
  return layer;
}

const fresh = (label: string) => `${label}${randomBytes(5).toString("hex")}`;
/** The server URL with another path (a Redis database number), whatever path it came with. */
function withPath(url: string, path: string): string {
  const parsed = new URL(url);
  parsed.pathname = path;
  return parsed.toString().replace(/\/$/, "");
}
const portOf = (url: string) => Number(/:(\d+)(?:\/|$)/.exec(url)?.[1]);

/** Sends until the channel is full: how many it took, with the rejection that ended it. */
async function fillUp(layer: ChannelLayer, channel: string): Promise<{ sent: number; error: unknown }> {
  for (let sent = 0; sent < 10; sent++) {
    try {
      await layer.send(channel, { type: "fill", n: sent });
    } catch (error) {
      return { sent, error };
    }
  }
  return { sent: 10, error: undefined };
}

describe("redis://", () => {
  it("puts the layer in the URL's database with the prefix, capacity and expiry of its query string", async () => {
    const redis = await service("redis");
    const prefix = fresh("settings");
    const layer = await layerFrom(`${withPath(redis.url, "/5")}?prefix=${prefix}&capacity=2&expiry=30`);
    expect(await fillUp(layer, "settings-jobs")).toEqual({
      sent: 2,
      error: expect.objectContaining({ code: "CHANNEL_FULL" }),
    });
    const [database5, database0] = [new Redis(withPath(redis.url, "/5")), new Redis(withPath(redis.url, "/0"))];
    try {
      expect(await database5.keys(`${prefix}*`)).not.toEqual([]);
      expect(await database0.keys(`${prefix}*`)).toEqual([]);
      const ttl = await database5.pttl((await database5.keys(`${prefix}*`))[0] ?? "");
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(41_000); // expiry + channels_redis' 10 s margin
    } finally {
      await layer.flush();
      database5.disconnect();
      database0.disconnect();
    }
  });

  it("logs in as the URL's ACL user with its password, and fails with a wrong one", async () => {
    const redis = await service("redis", ["--user", "alice", "on", ">s3cret", "~*", "&*", "+@all"]);
    const port = portOf(redis.url);
    const good = await layerFrom(`redis://alice:s3cret@127.0.0.1:${port}/0?prefix=${fresh("acl")}`);
    await good.send("acl-jobs", { type: "hello" });
    expect(await good.receive("acl-jobs")).toEqual({ type: "hello" });
    const wrong = await layerFrom(`redis://alice:wrong@127.0.0.1:${port}/0?prefix=${fresh("acl")}`);
    await expect(wrong.send("acl-jobs", { type: "hello" })).rejects.toMatchObject({ code: "BACKEND_UNAVAILABLE" });
  });
});

describe("redis+sentinel://", () => {
  it("asks the sentinels for the named master and works there", async () => {
    const master = await service("redis", []);
    const sentinelPort = await freePort();
    const dir = mkdtempSync(join(tmpdir(), "settings-sentinel-"));
    const config = join(dir, "sentinel.conf");
    writeFileSync(
      config,
      `port ${sentinelPort}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor web 127.0.0.1 ${portOf(master.url)} 1\n`,
    );
    const sentinel = new ServerProcess({
      command: "redis-server",
      args: [config, "--sentinel"],
      ready: () => waitFor(`sentinel on ${sentinelPort}`, () => probeTcp(sentinelPort, "+PONG", "PING\r\n")),
    });
    await sentinel.start();
    stops.push(async () => {
      await sentinel.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    const prefix = fresh("sentinel");
    // The first sentinel is not running: the layer goes on to the next one.
    const dead = await freePort();
    const layer = await layerFrom(
      `redis+sentinel://127.0.0.1:${dead},127.0.0.1:${sentinelPort}/web/3?prefix=${prefix}`,
    );
    await layer.send("sentinel-jobs", { type: "via.sentinel" });
    const direct = new Redis(withPath(master.url, "/3"));
    try {
      expect(await direct.keys(`${prefix}*`)).not.toEqual([]);
    } finally {
      direct.disconnect();
    }
    expect(await layer.receive("sentinel-jobs")).toEqual({ type: "via.sentinel" });
  });
});

describe("postgres://", () => {
  it("takes the layer's options from the query string and hands pg's own parameters to pg", async () => {
    const database = await service("postgres");
    const prefix = fresh("settings_");
    const applicationName = fresh("settings_app_");
    const separator = database.url.includes("?") ? "&" : "?";
    const layer = await layerFrom(
      `${database.url}${separator}prefix=${prefix}&capacity=2&application_name=${applicationName}&poll_interval_ms=1000`,
    );
    try {
      expect(await fillUp(layer, "settings-jobs")).toEqual({
        sent: 2,
        error: expect.objectContaining({ code: "CHANNEL_FULL" }),
      });
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        const found = await client.query(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1",
          [applicationName],
        );
        expect(found.rows[0].n).toBeGreaterThan(0);
      } finally {
        await client.end();
      }
    } finally {
      await layer.close();
      await uninstall({ connectionString: database.url, prefix });
    }
  });
});

describe("nats://", () => {
  it("takes the prefix and capacity from the query string and tries each listed server", async () => {
    const nats = await service("nats");
    const dead = await freePort();
    const url = nats.url.replace("nats://", `nats://127.0.0.1:${dead},`);
    const layer = await layerFrom(`${url}?prefix=${fresh("settings")}&capacity=2`);
    const channel = await layer.newChannel();
    expect(await fillUp(layer, channel)).toEqual({ sent: 2, error: expect.objectContaining({ code: "CHANNEL_FULL" }) });
    await layer.flush();
  });

  it("logs in with the URL's user and password, or its token", async () => {
    const withPassword = await service("nats", ["--user", "web", "--pass", "s3cret"]);
    const withToken = await service("nats", ["--auth", "t0ken"]);
    for (const url of [
      withPassword.url.replace("nats://", "nats://web:s3cret@"),
      withToken.url.replace("nats://", "nats://t0ken@"),
    ]) {
      const layer = await layerFrom(`${url}?prefix=${fresh("auth")}&requestTimeoutMs=5000`);
      const channel = await layer.newChannel();
      await layer.send(channel, { type: "hello" });
      expect(await layer.receive(channel)).toEqual({ type: "hello" });
    }
    const wrong = layerFrom(withPassword.url.replace("nats://", "nats://web:wr0ng@"));
    const refused = wrong.then(async (layer) => layer.send(await layer.newChannel(), { type: "hello" }));
    await expect(refused).rejects.toMatchObject({ code: "BACKEND_UNAVAILABLE" });
    await expect(refused).rejects.not.toHaveProperty("message", expect.stringContaining("wr0ng"));
  });
});
