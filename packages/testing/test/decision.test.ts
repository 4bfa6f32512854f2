import { describe, expect, it } from "vitest";
import { detectContainerRuntime } from "../src/containers.js";
import {
  freePort,
  hasLocalBinary,
  probeTcp,
  resolveService,
  type ServicePlan,
  startNats,
  startRedis,
} from "../src/index.js";
import { roundTrip, withEnv } from "./round-trip.js";

/** A plan whose steps record that they ran and give back their own name. */
function recordingPlan(overrides: Partial<ServicePlan<string>> = {}) {
  const ran: string[] = [];
  const plan: ServicePlan<string> = {
    what: "Thing",
    hint: "install thing",
    envUrl: "thing://shared",
    fromEnv: (url) => {
      ran.push("env");
      return `env ${url}`;
    },
    throwaway: false,
    containerRuntime: async () => {
      ran.push("runtime?");
      return true;
    },
    container: async () => {
      ran.push("container");
      return "container";
    },
    local: async () => {
      ran.push("local");
      return "local";
    },
    required: false,
    ...overrides,
  };
  return { plan, ran };
}

describe("the order servers are looked for in", () => {
  it("takes the environment URL first, and tries nothing else", async () => {
    const { plan, ran } = recordingPlan();
    expect(await resolveService(plan)).toBe("env thing://shared");
    expect(ran).toEqual(["env"]);
  });

  it("skips the environment URL for a throwaway server and takes a container when a runtime answers", async () => {
    const { plan, ran } = recordingPlan({ throwaway: true });
    expect(await resolveService(plan)).toBe("container");
    expect(ran).toEqual(["runtime?", "container"]);
  });

  it("takes the local binary when no container runtime answers", async () => {
    const { plan, ran } = recordingPlan({ envUrl: undefined, containerRuntime: async () => false });
    expect(await resolveService(plan)).toBe("local");
    expect(ran).toEqual(["local"]);
  });

  it("falls back to the local binary when the container fails to start", async () => {
    const { plan, ran } = recordingPlan({
      envUrl: undefined,
      container: async () => {
        ran.push("container");
        throw new Error("image pull failed");
      },
    });
    expect(await resolveService(plan)).toBe("local");
    expect(ran).toEqual(["runtime?", "container", "local"]);
  });

  it("never asks for a runtime where containers do not apply (args, clusters)", async () => {
    const { plan, ran } = recordingPlan({ envUrl: undefined, container: undefined });
    expect(await resolveService(plan)).toBe("local");
    expect(ran).toEqual(["local"]);
  });

  it("resolves undefined with nothing to be had, so the test can skip", async () => {
    const { plan } = recordingPlan({ envUrl: undefined, containerRuntime: async () => false, local: undefined });
    expect(await resolveService(plan)).toBeUndefined();
  });

  it("rejects with what was tried when a server is required", async () => {
    const failing = recordingPlan({
      envUrl: undefined,
      local: undefined,
      required: true,
      container: async () => {
        throw new Error("image pull failed");
      },
    });
    await expect(resolveService(failing.plan)).rejects.toThrow(
      "Thing: install thing (its container did not start (image pull failed); no local binary). Required",
    );
    const nothing = recordingPlan({
      envUrl: undefined,
      local: undefined,
      required: true,
      containerRuntime: async () => false,
    });
    await expect(resolveService(nothing.plan)).rejects.toThrow(/no container runtime answered; no local binary/);
  });

  it("lets a local binary that fails to start fail the test instead of skipping it", async () => {
    const { plan } = recordingPlan({
      envUrl: undefined,
      containerRuntime: async () => false,
      local: async () => {
        throw new Error("redis-server exited (code 1) while starting");
      },
    });
    await expect(resolveService(plan)).rejects.toThrow(/exited/);
  });
});

describe("the real start functions", () => {
  const noServers = { CHANNEL_LAYERS_LOCAL_SERVERS: "0", CHANNEL_LAYERS_CONTAINERS: "0" };

  it("skip without any server, and fail under CI=true or REQUIRE_SERVICES=1", async () => {
    await withEnv({ ...noServers, CI: undefined, REQUIRE_SERVICES: undefined }, async () => {
      expect(await startRedis({ throwaway: true })).toBeUndefined();
      await withEnv({ CI: "true" }, async () => {
        await expect(startRedis({ throwaway: true })).rejects.toThrow(/REDIS_URL/);
      });
      await withEnv({ REQUIRE_SERVICES: "1" }, async () => {
        await expect(startNats({ throwaway: true })).rejects.toThrow(/NATS_URL/);
      });
      expect(await startRedis({ throwaway: true, required: false })).toBeUndefined();
    });
  });

  it("find no container runtime behind a DOCKER_HOST with no daemon, and fall back to the local binary", {
    timeout: 60_000,
  }, async () => {
    const closed = await freePort();
    for (const dockerHost of [`tcp://127.0.0.1:${closed}`, "unix:///nonexistent/docker.sock"]) {
      expect(await withEnv({ DOCKER_HOST: dockerHost }, detectContainerRuntime)).toBe(false);
    }
    if (!hasLocalBinary("redis") || process.env.CHANNEL_LAYERS_LOCAL_SERVERS === "0") return;
    const redis = await withEnv({ DOCKER_HOST: `tcp://127.0.0.1:${closed}` }, () => startRedis({ throwaway: true }));
    try {
      expect(redis?.source).toBe("local");
      expect(await roundTrip.redis(redis?.url as string)).toBe("redis-ok");
    } finally {
      await redis?.stop();
    }
  });

  it.runIf(hasLocalBinary("nats") && process.env.CHANNEL_LAYERS_LOCAL_SERVERS !== "0")(
    "give a server of our own for `jetstream: false`, whatever NATS_URL says",
    async () => {
      const nats = await withEnv({ NATS_URL: "nats://127.0.0.1:1", CHANNEL_LAYERS_CONTAINERS: "0" }, () =>
        startNats({ jetstream: false }),
      );
      try {
        expect(nats?.source).toBe("local");
        const port = Number(new URL(nats?.url as string).port);
        expect(await probeTcp(port, '"server_id"')).toBe(true);
        expect(await probeTcp(port, '"jetstream":true')).toBe(false);
      } finally {
        await nats?.stop();
      }
    },
  );

  it.runIf(hasLocalBinary("redis") && process.env.CHANNEL_LAYERS_LOCAL_SERVERS !== "0")(
    "pass `args` to a local server of our own, whatever REDIS_URL says",
    async () => {
      const redis = await withEnv({ REDIS_URL: "redis://127.0.0.1:1" }, () =>
        startRedis({ args: ["--requirepass", "sesame"] }),
      );
      try {
        expect(redis?.source).toBe("local");
        const port = Number(new URL(redis?.url as string).port);
        expect(await probeTcp(port, "NOAUTH", "PING\r\n")).toBe(true);
      } finally {
        await redis?.stop();
      }
    },
  );
});
