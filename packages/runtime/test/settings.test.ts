import { redactUrl } from "@channel-layers/core/backend";
import { InMemoryChannelLayer } from "@channel-layers/memory";
import { afterEach, describe, expect, it } from "vitest";
import {
  closeChannelLayers,
  configureChannelLayers,
  createChannelLayer,
  getChannelLayer,
  ProtocolTypeRouter,
  path,
  runWorker,
  serve,
  URLRouter,
  WebsocketConsumer,
} from "../src/index.js";
import { resolveChannelLayerSetting } from "../src/settings/create-channel-layer.js";
import { LiveWebsocketCommunicator, WebsocketCommunicator } from "../src/testing/index.js";

const resolve = resolveChannelLayerSetting;

afterEach(async () => {
  await closeChannelLayers();
  configureChannelLayers({});
  delete process.env.CHANNEL_LAYER_URL;
});

describe("URLs", () => {
  it("memory:// takes Channels' options from the query string, in camelCase or snake_case", () => {
    expect(resolve("memory://")).toEqual({ backend: "memory", options: {} });
    expect(resolve("memory://?capacity=5&group_expiry=10&expiry=0.5&maxMessageSize=2048")).toEqual({
      backend: "memory",
      options: { capacity: 5, groupExpiry: 10, expiry: 0.5, maxMessageSize: 2048 },
    });
  });

  it("every backend takes the presence timings from the query string, in milliseconds", () => {
    expect(resolve("memory://?presence_heartbeat_ms=1000&presenceTimeoutMs=3000")).toEqual({
      backend: "memory",
      options: { presenceHeartbeatMs: 1000, presenceTimeoutMs: 3000 },
    });
    expect(resolve("nats://n1?presenceHeartbeatMs=250").options).toMatchObject({ presenceHeartbeatMs: 250 });
  });

  it("redis:// and rediss:// give one host with its database, user, password and TLS", () => {
    expect(resolve("redis://:p%40ss@cache.internal:6380/3?prefix=chat&capacity=10&expiry=2.5")).toEqual({
      backend: "redis",
      options: {
        hosts: [{ host: "cache.internal", port: 6380, password: "p@ss", db: 3 }],
        prefix: "chat",
        capacity: 10,
        expiry: 2.5,
      },
    });
    expect(resolve("rediss://alice:secret@[::1]")).toEqual({
      backend: "redis",
      options: { hosts: [{ host: "::1", port: 6379, username: "alice", password: "secret", tls: {} }] },
    });
  });

  it("redis+sentinel:// lists the sentinels, then the master's name and database", () => {
    expect(
      resolve("redis+sentinel://:pw@s1,s2:26380/mymaster/2?prefix=p&sentinelPassword=sp&sentinel_username=watch"),
    ).toEqual({
      backend: "redis",
      options: {
        hosts: [
          {
            sentinels: [
              { host: "s1", port: 26379 },
              { host: "s2", port: 26380 },
            ],
            name: "mymaster",
            password: "pw",
            db: 2,
            sentinelPassword: "sp",
            sentinelUsername: "watch",
          },
        ],
        prefix: "p",
      },
    });
  });

  it("postgres:// keeps pg's own parameters in the connection string and takes the layer's out", () => {
    expect(
      resolve(
        "postgresql://app:pw@db:5432/chat?sslmode=require&prefix=p&schema=layers&application_name=web&migrate=false&pollIntervalMs=2000",
      ),
    ).toEqual({
      backend: "postgres",
      options: {
        connectionString: "postgresql://app:pw@db:5432/chat?sslmode=require&application_name=web",
        prefix: "p",
        schema: "layers",
        migrate: false,
        pollIntervalMs: 2000,
      },
    });
  });

  it("nats:// lists several servers; user:password and a token become connect options; tls:// requires TLS", () => {
    expect(resolve("nats://a:b@n1:4222,n2?prefix=p&requestTimeoutMs=2000&ack_wait_ms=10000&replicas=3")).toEqual({
      backend: "nats",
      options: {
        servers: ["nats://n1:4222", "nats://n2:4222"],
        connectOptions: { user: "a", pass: "b" },
        prefix: "p",
        requestTimeoutMs: 2000,
        ackWaitMs: 10_000,
        replicas: 3,
      },
    });
    expect(resolve("tls://s3cr3t@nats.example:4443")).toEqual({
      backend: "nats",
      options: { servers: ["tls://nats.example:4443"], connectOptions: { token: "s3cr3t", tls: {} } },
    });
  });

  it("refuses what it cannot map, with INVALID_OPTIONS and the password hidden", () => {
    const refusals = [
      "kafka://broker:9092",
      "redis://:hunter2@h/?capcity=1",
      "redis://:hunter2@h/x",
      "redis://h1,h2",
      "redis://:hunter2@h?capacity=ten",
      "redis://h?capacity=1.5",
      "redis+sentinel://s1",
      "memory://somewhere",
      "nats://n1/path",
      "postgres://db/x?migrate=maybe",
      "not a url",
      "redis://h?__proto__=1",
      "memory://?constructor=1",
    ];
    for (const url of refusals) {
      let caught: unknown;
      try {
        resolve(url);
      } catch (error) {
        caught = error;
      }
      expect(caught, url).toMatchObject({ code: "INVALID_OPTIONS" });
      expect(String((caught as Error).message), url).not.toContain("hunter2");
    }
  });

  it("hides passwords and NATS tokens, but not plain user names", () => {
    expect(redactUrl("redis://:hunter2@h:6379/0")).toBe("redis://:***@h:6379/0");
    expect(redactUrl("postgres://app:p@ss@db/x")).toBe("postgres://app:***@db/x");
    expect(redactUrl("postgres://postgres@db/x")).toBe("postgres://postgres@db/x");
    expect(redactUrl("nats://token@n1")).toBe("nats://***@n1");
    expect(redactUrl("redis+sentinel://s1/m?prefix=p&sentinelPassword=hunter2&capacity=1")).toBe(
      "redis+sentinel://s1/m?prefix=p&sentinelPassword=***&capacity=1",
    );
  });
});

describe("config objects", () => {
  it("name the backend, a URL and constructor options that win over the URL's", () => {
    expect(resolve({ backend: "redis-pubsub", url: "redis://h?prefix=a", options: { prefix: "b" } })).toEqual({
      backend: "redis-pubsub",
      options: { hosts: [{ host: "h", port: 6379 }], prefix: "b" },
    });
    const hosts = [{ cluster: [{ host: "c1", port: 7000 }] }];
    expect(resolve({ backend: "redis", options: { hosts, capacity: 5 } })).toEqual({
      backend: "redis",
      options: { hosts, capacity: 5 },
    });
    expect(resolve({ url: "tls://u:p@n1", options: { connectOptions: { name: "web" } } })).toEqual({
      backend: "nats",
      options: { servers: ["tls://n1:4222"], connectOptions: { user: "u", pass: "p", tls: {}, name: "web" } },
    });
  });

  it("refuses unknown keys, unknown backends and a backend that does not take the URL's scheme", () => {
    const settings: unknown[] = [
      { BACKEND: "channels_redis.core.RedisChannelLayer" },
      { backend: "kafka" },
      { backend: "postgres", url: "redis://h" },
      { url: 42 },
      { options: {} },
      { backend: "memory", options: "capacity=1" },
      null,
    ];
    for (const setting of settings) {
      expect(() => resolve(setting as string), JSON.stringify(setting)).toThrow(
        expect.objectContaining({ code: "INVALID_OPTIONS" }),
      );
    }
  });

  it("let the backend check the options it owns", async () => {
    await expect(createChannelLayer("memory://?capacity=0")).rejects.toMatchObject({ code: "INVALID_OPTIONS" });
    await expect(
      createChannelLayer({ backend: "postgres", options: { prefix: "no spaces allowed" } }),
    ).rejects.toMatchObject({ code: "INVALID_OPTIONS" });
  });
});

describe("configureChannelLayers and getChannelLayer", () => {
  it("default to the in-memory layer, one per process, when nothing is configured and CHANNEL_LAYER_URL is unset", async () => {
    const layer = await getChannelLayer();
    expect(layer).toBeInstanceOf(InMemoryChannelLayer);
    expect(await getChannelLayer()).toBe(layer);
    expect(await getChannelLayer("default")).toBe(layer);
  });

  it("read CHANNEL_LAYER_URL for the default when nothing is configured", async () => {
    process.env.CHANNEL_LAYER_URL = "memory://?capacity=1";
    const layer = await getChannelLayer();
    await layer.send("jobs", { type: "one" });
    await expect(layer.send("jobs", { type: "two" })).rejects.toMatchObject({ code: "CHANNEL_FULL" });
  });

  it("make each configured alias on first use; an unknown alias names the configured ones", async () => {
    const mine = new InMemoryChannelLayer();
    configureChannelLayers({ default: "memory://", small: { backend: "memory", options: { capacity: 1 } }, mine });
    const small = await getChannelLayer("small");
    expect(small).not.toBe(await getChannelLayer());
    expect(await getChannelLayer("mine")).toBe(mine);
    await expect(getChannelLayer("jobs")).rejects.toMatchObject({
      code: "INVALID_OPTIONS",
      message: expect.stringContaining("default, small, mine"),
    });
    // closeChannelLayers closes what the settings made, not a layer handed in.
    await closeChannelLayers();
    expect((small as InMemoryChannelLayer).closed).toBe(true);
    expect(mine.closed).toBe(false);
    await mine.close();
  });

  it("check every setting at once, and refuse to change settings whose layers are in use", async () => {
    expect(() => configureChannelLayers({ default: "memory://", broken: "redis://h?capcity=1" })).toThrow(
      expect.objectContaining({ code: "INVALID_OPTIONS" }),
    );
    const layer = await getChannelLayer();
    expect(() => configureChannelLayers({ default: "memory://" })).toThrow(/already in use/);
    await closeChannelLayers();
    expect((layer as InMemoryChannelLayer).closed).toBe(true);
    // After closeChannelLayers nothing is made behind the process's back...
    await expect(getChannelLayer()).rejects.toMatchObject({ code: "LAYER_CLOSED" });
    // ...until it is configured again.
    configureChannelLayers({ default: "memory://" });
    expect(await getChannelLayer()).not.toBe(layer);
  });
});

class Room extends WebsocketConsumer {
  static override groups = ["room"];
  async room_message(event: { type: string; text?: unknown }) {
    await this.send(String(event.text));
  }
}

describe("one layer for the whole process", () => {
  it("what an HTTP view group-sends through getChannelLayer() reaches a socket of serve() given no layer", async () => {
    const application = ProtocolTypeRouter({
      http: (_request, response) => {
        void (async () => {
          const layer = await getChannelLayer();
          await layer.groupSend("room", { type: "room.message", text: "from the view" });
          response.end("sent");
        })();
      },
      websocket: URLRouter([path("ws/", Room)]),
    });
    const server = await serve(application, { port: 0, shutdownSignals: [] });
    try {
      expect(server.channelLayer).toBe(await getChannelLayer());
      const socket = new LiveWebsocketCommunicator(`${server.url.replace("http", "ws")}/ws/`);
      expect((await socket.connect()).connected).toBe(true);
      expect(await (await fetch(`${server.url}/notify`)).text()).toBe("sent");
      expect(await socket.receiveFrom()).toBe("from the view");
      await socket.disconnect();
    } finally {
      await server.close();
    }
  });

  it("the communicator and runWorker given no layer use getChannelLayer() too", async () => {
    configureChannelLayers({ default: "memory://" });
    const layer = await getChannelLayer();
    const communicator = new WebsocketCommunicator(Room, "/ws/");
    expect((await communicator.connect()).connected).toBe(true);
    expect(communicator.scope.channel_layer).toBe(layer);
    await layer.groupSend("room", { type: "room.message", text: "hello" });
    expect(await communicator.receiveFrom()).toBe("hello");
    await communicator.disconnect();

    const worker = await runWorker({ jobs: Room }, { shutdownSignals: [] });
    expect(worker.channelLayer).toBe(layer);
    await worker.stop();
  });
});
