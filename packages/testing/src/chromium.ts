import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BinarySearch, findBinary } from "./binaries.js";
import { servicesRequired } from "./service.js";

/** How a test launches headless Chromium: the binary and flags that work as root, offline, in CI. */
export interface ChromiumLaunchOptions {
  executablePath: string;
  headless: true;
  args: string[];
}

/**
 * Flags for a headless Chromium that runs as root and makes no connection of its own: without
 * the background-networking ones, its update and sync requests are refused by a closed network.
 */
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const CHROMIUM_NAMES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];

/**
 * The launch options for the machine's Chromium (`CHROMIUM_PATH`, else `chromium` and its
 * usual names on PATH and in the install roots), or undefined when there is none. Under CI=true or
 * REQUIRE_SERVICES=1 a missing Chromium throws instead: the browser tests must run there.
 */
export function chromiumLaunchOptions(search: BinarySearch = {}): ChromiumLaunchOptions | undefined {
  const executablePath =
    process.env.CHROMIUM_PATH ?? CHROMIUM_NAMES.map((name) => findBinary(name, search)).find(Boolean);
  if (executablePath !== undefined) return { executablePath, headless: true, args: [...CHROMIUM_ARGS] };
  if (servicesRequired()) {
    throw new Error(
      "No Chromium for the browser tests: install chromium (Debian: apt-get install chromium) or set CHROMIUM_PATH",
    );
  }
  return undefined;
}

/** What launchChromium needs of playwright's `chromium` (playwright-core is the caller's dependency). */
export interface PersistentContextLauncher<Context extends { close(): Promise<void> }> {
  launchPersistentContext(userDataDir: string, options: ChromiumLaunchOptions): Promise<Context>;
}

/** A browser context in a fresh profile directory; close() ends it and removes the directory. */
export interface LaunchedChromium<Context> {
  context: Context;
  close(): Promise<void>;
}

/**
 * Launches headless Chromium through playwright (`launchChromium(chromium)` with playwright-core's
 * `chromium`) in a temporary profile, with `extraArgs` after the usual flags (a
 * `--host-resolver-rules=...`, say), or resolves undefined when the machine has none (see
 * chromiumLaunchOptions).
 */
export async function launchChromium<Context extends { close(): Promise<void> }>(
  launcher: PersistentContextLauncher<Context>,
  extraArgs: readonly string[] = [],
): Promise<LaunchedChromium<Context> | undefined> {
  const found = chromiumLaunchOptions();
  if (found === undefined) return undefined;
  const options = { ...found, args: [...found.args, ...extraArgs] };
  const userDataDir = mkdtempSync(join(tmpdir(), "channel-layers-chromium-"));
  try {
    const context = await launcher.launchPersistentContext(userDataDir, options);
    return {
      context,
      async close() {
        await context.close();
        rmSync(userDataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw error;
  }
}
