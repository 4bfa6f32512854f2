import { describe, expect, it } from "vitest";
import { containerRuntimeAnswers, startService, type TestService } from "../src/index.js";
import { roundTrip, withEnv } from "./round-trip.js";

// The container path, where a container runtime answers (there is none on this project's CI
// machine; the decision tests cover the choice of path there).
const runtime = await containerRuntimeAnswers();

describe.runIf(runtime).each(["redis", "postgres", "nats"] as const)("a %s container", (kind) => {
  it("starts from the pinned image, dies on kill, restarts with a refreshed url and is removed by stop()", {
    timeout: 300_000,
  }, async () => {
    const service: TestService | undefined = await withEnv({ CHANNEL_LAYERS_LOCAL_SERVERS: "0" }, () =>
      startService(kind, { throwaway: true, required: true }),
    );
    if (!service) throw new Error(`no ${kind} container`);
    try {
      expect(service.source).toBe("container");
      expect(await roundTrip[kind](service.url)).toBe(`${kind}-ok`);
      await service.kill();
      await expect(roundTrip[kind](service.url)).rejects.toThrow();
      await service.restart();
      // Read again: the mapped port may have changed with the restart.
      expect(await roundTrip[kind](service.url)).toBe(`${kind}-ok`);
    } finally {
      await service.stop();
    }
  });
});
