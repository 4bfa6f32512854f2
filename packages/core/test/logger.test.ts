import { describe, expect, it } from "vitest";
import { type LogDetails, type Logger, RateLimitedLog } from "../src/logger.js";

function recordingLogger(): Logger & { lines: [string, LogDetails | undefined][] } {
  const lines: [string, LogDetails | undefined][] = [];
  const log = (message: string, details?: LogDetails) => lines.push([message, details]);
  return { lines, debug: log, info: log, warn: log, error: log };
}

describe("RateLimitedLog", () => {
  it("lets one line per key through each interval and reports how many it held back", () => {
    const logger = recordingLogger();
    const log = new RateLimitedLog(logger, 60_000);
    for (let i = 0; i < 1000; i++) log.warn("origin:evil.example", "refused a foreign Origin");
    log.warn("origin:other.example", "refused a foreign Origin");
    expect(logger.lines).toEqual([
      ["refused a foreign Origin", undefined],
      ["refused a foreign Origin", undefined],
    ]);
  });

  it("logs a key again once its interval has passed", () => {
    const logger = recordingLogger();
    const log = new RateLimitedLog(logger, 0);
    log.warn("k", "first");
    log.warn("k", "second", { path: "/x" });
    expect(logger.lines[1]).toEqual(["second", { path: "/x" }]);
  });
});
