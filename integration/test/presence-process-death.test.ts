import { randomBytes } from "node:crypto";
import { hasHistory, hasPresence } from "@channel-layers/core";
import { createChannelLayer } from "@channel-layers/runtime";
import { type ServiceKind, startService, type TestService } from "@channel-layers/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkPresenceAfterProcessDeath } from "./presence-process-death.js";
import { removePrefix } from "./remove-prefix.js";

const KINDS: ServiceKind[] = ["redis", "postgres", "nats"];

/** `url` with `prefix` in its query string. */
function withPrefix(url: string, prefix: string): string {
  return `${url}${url.includes("?") ? "&" : "?"}prefix=${prefix}`;
}

describe.each(KINDS)("presence after a process dies, on %s", (kind) => {
  let service: TestService | undefined;
  let extensions = { presence: false, history: false };
  const prefix = `death${randomBytes(6).toString("hex")}`;

  beforeAll(async () => {
    service = await startService(kind);
    if (service === undefined) return;
    const probe = await createChannelLayer(withPrefix(service.url, prefix));
    extensions = { presence: hasPresence(probe), history: hasHistory(probe) };
    await probe.close();
  }, 60_000);

  afterAll(async () => {
    if (service) await removePrefix(kind, service.url, prefix);
    await service?.stop();
  }, 30_000);

  it("removes a SIGKILLed process's entry within presenceTimeoutMs + presenceHeartbeatMs, with one leave diff to the survivor", async (context) => {
    if (service === undefined) return context.skip(`no ${kind} server`);
    // Issue 15 wants presence and history on every backend.
    expect(extensions, `the ${kind} layer's extensions`).toEqual({ presence: true, history: true });
    await checkPresenceAfterProcessDeath({ layer: { setting: withPrefix(service.url, prefix) } });
  }, 60_000);
});
