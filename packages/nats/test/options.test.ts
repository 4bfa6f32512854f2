import { describe, expect, it } from "vitest";
import { resolveNatsOptions } from "../src/options.js";

const INVALID = expect.objectContaining({ code: "INVALID_OPTIONS" });

describe("NATS options", () => {
  it("takes credentials out of server URLs into connect options, so nothing printed holds them", () => {
    expect(
      resolveNatsOptions({ servers: ["nats://web:p%40ss@n1:4222", "tls://web:p%40ss@[::1]:4443/"] }),
    ).toMatchObject({
      servers: ["nats://n1:4222", "tls://[::1]:4443/"],
      connectOptions: { user: "web", pass: "p@ss" },
    });
    expect(resolveNatsOptions({ servers: "nats://s3cr3t@n1" })).toMatchObject({
      servers: ["nats://n1"],
      connectOptions: { token: "s3cr3t" },
    });
    // A password may hold an unencoded `@`: the last one ends the userinfo, as in WHATWG URLs.
    expect(resolveNatsOptions({ servers: "web:a@b@n1:4222" })).toMatchObject({
      servers: ["n1:4222"],
      connectOptions: { user: "web", pass: "a@b" },
    });
    expect(resolveNatsOptions({ servers: "nats://n1", connectOptions: { token: "t" } }).connectOptions).toEqual({
      token: "t",
    });
  });

  it("refuses credentials that disagree, without printing them", () => {
    for (const options of [
      { servers: ["nats://a:one-secret@n1", "nats://a:two-secret@n2"] },
      { servers: "nats://a:one-secret@n1", connectOptions: { pass: "two-secret" } },
    ]) {
      expect(() => resolveNatsOptions(options)).toThrow(INVALID);
      try {
        resolveNatsOptions(options);
      } catch (error) {
        expect((error as Error).message).not.toMatch(/one-secret|two-secret/);
      }
    }
  });

  it("takes durations in milliseconds (...Ms) and replicas from 1 to 5", () => {
    expect(resolveNatsOptions({})).toMatchObject({ requestTimeoutMs: 5000, ackWaitMs: 30_000, replicas: 1 });
    expect(resolveNatsOptions({ requestTimeoutMs: 250, ackWaitMs: 1500, replicas: 3 })).toMatchObject({
      requestTimeoutMs: 250,
      ackWaitMs: 1500,
      replicas: 3,
    });
    for (const bad of [
      { requestTimeoutMs: 0 },
      { ackWaitMs: -1 },
      { replicas: 0 },
      { replicas: 6 },
      { replicas: 1.5 },
    ]) {
      expect(() => resolveNatsOptions(bad), JSON.stringify(bad)).toThrow(INVALID);
    }
    expect(() => resolveNatsOptions({ servers: [] }), "no servers").toThrow(INVALID);
  });
});
