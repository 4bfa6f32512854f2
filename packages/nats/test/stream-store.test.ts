import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DiagnosticsEvent } from "@channel-layers/core";
import { receiveWithin } from "@channel-layers/core/conformance";
import { NatsChannelLayer } from "@channel-layers/nats";
import { startNats, type TestService } from "@channel-layers/testing";
import { describe, expect, it, onTestFinished } from "vitest";
import { randomPrefix } from "./nats-server.js";

// nats-server 2.9 removes an account's store directory (`jetstream/$G`) with its last stream; a
// stream created at that moment fails with 10049 "error creating store for stream", and the next
// try succeeds. A file where that directory goes makes the same failure last as long as a test
// wants, on a throwaway server whose store directory is the test's own.
async function serverWithBlockedStore(): Promise<{ server: TestService; unblock(): void }> {
  const storeDir = mkdtempSync(join(tmpdir(), "nats-store-"));
  onTestFinished(() => rmSync(storeDir, { recursive: true, force: true }));
  mkdirSync(join(storeDir, "jetstream"));
  const blocker = join(storeDir, "jetstream", "$G");
  writeFileSync(blocker, "");
  const server = (await startNats({ throwaway: true, args: ["-sd", storeDir], required: true })) as TestService;
  onTestFinished(() => server.stop());
  return { server, unblock: () => rmSync(blocker) };
}

function layerOn(server: TestService): NatsChannelLayer {
  const layer = new NatsChannelLayer({ servers: server.url, prefix: randomPrefix("store") });
  onTestFinished(() => layer.close());
  return layer;
}

describe("a stream whose store the server could not create", () => {
  it("is created again (after a back-off, reported as a background error), so the send goes through", async () => {
    const { server, unblock } = await serverWithBlockedStore();
    const layer = layerOn(server);
    const onEvent = (event: unknown) => {
      if ((event as DiagnosticsEvent).event === "background-error") unblock();
    };
    subscribe("channel-layers:nats", onEvent);
    onTestFinished(() => {
      unsubscribe("channel-layers:nats", onEvent);
    });
    await layer.send("store-jobs", { type: "job" });
    expect(await receiveWithin(layer, "store-jobs", 5000)).toEqual({ type: "job" });
    expect(layer.stats().backgroundErrors).toBe(1);
  });

  it("rejects with BACKEND_UNAVAILABLE and the server's error once the tries are used up", async () => {
    const { server } = await serverWithBlockedStore();
    const layer = layerOn(server);
    const error = await layer.send("store-jobs", { type: "job" }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "BACKEND_UNAVAILABLE", message: expect.stringContaining("creating store") });
    expect(layer.stats().backgroundErrors).toBe(3);
  });
});
