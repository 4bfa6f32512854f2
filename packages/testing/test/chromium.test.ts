import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { chromiumLaunchOptions } from "../src/chromium.js";
import { withEnv } from "./round-trip.js";

const empty = mkdtempSync(join(tmpdir(), "no-chromium-"));
process.once("exit", () => rmSync(empty, { recursive: true, force: true }));

/** A search that finds nothing: no PATH, and install roots under an empty directory. */
const nowhere = { path: "", root: empty };

describe("chromiumLaunchOptions", () => {
  it("finds the machine's Chromium and gives the headless flags that work as root and offline", async () => {
    const options = await withEnv({ CHROMIUM_PATH: undefined }, async () => chromiumLaunchOptions());
    if (options === undefined) return;
    expect(options.headless).toBe(true);
    expect(options.args).toEqual(
      expect.arrayContaining(["--headless", "--no-sandbox", "--disable-background-networking"]),
    );
  });

  it("takes CHROMIUM_PATH first", async () => {
    const options = await withEnv({ CHROMIUM_PATH: "/opt/chrome/chrome" }, async () => chromiumLaunchOptions(nowhere));
    expect(options?.executablePath).toBe("/opt/chrome/chrome");
  });

  it("without one, gives undefined (the browser tests skip), and throws under CI=true", async () => {
    const env = { CHROMIUM_PATH: undefined, CI: undefined, REQUIRE_SERVICES: undefined };
    expect(await withEnv(env, async () => chromiumLaunchOptions(nowhere))).toBeUndefined();
    await expect(withEnv({ ...env, CI: "true" }, async () => chromiumLaunchOptions(nowhere))).rejects.toThrow(
      /No Chromium for the browser tests: install chromium/,
    );
  });
});
