import { describe, expect, it } from "vitest";
import { redactUrl } from "../src/redact-url.js";

describe("redactUrl", () => {
  it("hides passwords, NATS tokens and secret query parameters, keeping user names and hosts", () => {
    expect(redactUrl("redis://app:s3cret@cache:6379/0")).toBe("redis://app:***@cache:6379/0");
    expect(redactUrl("redis://:s3cret@cache:6379")).toBe("redis://:***@cache:6379");
    expect(redactUrl("nats://t0ken@broker:4222")).toBe("nats://***@broker:4222");
    expect(redactUrl("postgres://app@db/x?sslmode=require&password=pw")).toBe(
      "postgres://app@db/x?sslmode=require&password=***",
    );
    expect(redactUrl("redis+sentinel://s1:26379/mymaster?sentinelPassword=pw")).toBe(
      "redis+sentinel://s1:26379/mymaster?sentinelPassword=***",
    );
  });

  it("finds URLs inside a message or log line", () => {
    expect(redactUrl("could not connect to nats://u:pw@a:4222, nats://tok@b:4222 (timeout)")).toBe(
      "could not connect to nats://u:***@a:4222, nats://***@b:4222 (timeout)",
    );
  });
});
