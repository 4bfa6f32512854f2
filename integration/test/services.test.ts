import { connect as natsConnect } from "@nats-io/transport-node";
import { Redis } from "ioredis";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import {
  hasLocalBinary,
  portAnswers,
  type Service,
  type ServiceKind,
  startLocalServer,
  startService,
} from "../src/index.js";

/** Writes something through a real client and reads it back. */
const roundTrip: Record<ServiceKind, (url: string) => Promise<string>> = {
  async redis(url) {
    const client = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on("error", () => undefined);
    try {
      await client.set("probe", "redis-ok");
      return (await client.get("probe")) ?? "";
    } finally {
      client.disconnect();
    }
  },
  async postgres(url) {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const result = await client.query<{ answer: string }>("SELECT 'postgres-ok' AS answer");
      return result.rows[0]?.answer ?? "";
    } finally {
      await client.end();
    }
  },
  async nats(url) {
    const connection = await natsConnect({ servers: url, reconnect: false });
    try {
      const subscription = connection.subscribe("probe", { max: 1 });
      connection.publish("probe", "nats-ok");
      for await (const message of subscription) return message.string();
      return "";
    } finally {
      await connection.close();
    }
  },
};

function portOf(url: string): number {
  return Number(new URL(url).port);
}

const started: Service[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((service) => service.stop()));
});

describe.each(["redis", "postgres", "nats"] as const)("throwaway %s from the local binary", (kind) => {
  it.runIf(hasLocalBinary(kind) && process.env.CHANNEL_LAYERS_LOCAL_SERVERS !== "0")(
    "starts on a free port, dies on kill -9, restarts on the same port and answers again",
    { timeout: 60_000 },
    async () => {
      const service = await startLocalServer(kind);
      started.push(service);
      expect(service.source).toBe("local");
      expect(await roundTrip[kind](service.url)).toBe(`${kind}-ok`);
      await service.kill();
      expect(await portAnswers(portOf(service.url))).toBe(false);
      await expect(roundTrip[kind](service.url)).rejects.toThrow();
      await service.restart();
      expect(await roundTrip[kind](service.url)).toBe(`${kind}-ok`);
      await service.stop();
      expect(await portAnswers(portOf(service.url))).toBe(false);
    },
  );
});

describe("startService", () => {
  it("prefers the env URL, and refuses to kill or restart a shared server", async () => {
    const previous = process.env.REDIS_URL;
    process.env.REDIS_URL = "redis://127.0.0.1:1";
    try {
      const service = await startService("redis");
      expect(service?.source).toBe("env");
      expect(service?.url).toBe("redis://127.0.0.1:1");
      await expect(service?.kill()).rejects.toThrow(/shared/);
      await expect(service?.restart()).rejects.toThrow(/shared/);
    } finally {
      if (previous === undefined) delete process.env.REDIS_URL;
      else process.env.REDIS_URL = previous;
    }
  });

  it("starts a throwaway server when asked to, even with an env URL set", async (context) => {
    const previous = process.env.NATS_URL;
    process.env.NATS_URL = "nats://127.0.0.1:1";
    try {
      const service = await startService("nats", { throwaway: true });
      if (!service) return context.skip("no nats-server binary and no container runtime");
      started.push(service);
      expect(service.source).not.toBe("env");
      expect(await roundTrip.nats(service.url)).toBe("nats-ok");
    } finally {
      if (previous === undefined) delete process.env.NATS_URL;
      else process.env.NATS_URL = previous;
    }
  });
});
