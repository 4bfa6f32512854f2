import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { startVitest } from "vitest/node";
import type { Fault } from "./fixtures/faulty-layers.js";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures");

/** Runs the suite against a deliberately broken layer and returns the names of the tests that failed. */
async function failingTests(fault: Fault, testNamePattern: RegExp): Promise<string[]> {
  const vitest = await startVitest(
    "test",
    [],
    {
      watch: false,
      config: false,
      root: fixtures,
      include: ["faulty.conformance.ts"],
      testNamePattern,
      reporters: [{}],
      env: { CHANNEL_LAYER_FAULT: fault },
    },
    {
      resolve: { conditions: ["source"] },
      ssr: { resolve: { conditions: ["source"], externalConditions: ["source"] } },
    },
  );
  const failed: string[] = [];
  const visit = (task: { type: string; name: string; result?: { state?: string }; tasks?: unknown[] }) => {
    if (task.type === "test" && task.result?.state === "fail") failed.push(task.name);
    for (const child of (task.tasks ?? []) as (typeof task)[]) visit(child);
  };
  for (const file of vitest.state.getFiles()) visit(file as never);
  await vitest.close();
  return failed;
}

// The suite is only worth its passes if it fails a layer that breaks the contract.
describe("the conformance suite catches broken layers", { timeout: 60_000 }, () => {
  it("a layer that loses a message when a receive is aborted", async () => {
    expect(await failingTests("loses-messages-on-abort", /abort/)).toContain(
      "loses and duplicates nothing when aborts race sends, many times over",
    );
  });

  it("a layer that ignores capacity", async () => {
    expect(await failingTests("ignores-capacity", /ChannelFull|channelCapacity|full/)).toEqual(
      expect.arrayContaining([
        "rejects a send to a full channel with ChannelFull, keeping what it holds",
        "groupSend skips full members and still delivers to the rest",
      ]),
    );
  });

  it("a layer that never expires messages", async () => {
    expect(await failingTests("never-expires", /expir/)).toContain(
      "never delivers a message not received within expiry",
    );
  });

  it("a layer whose discardChannel leaves the channel in its groups", async () => {
    expect(await failingTests("keeps-groups-on-discard", /discard/)).toContain(
      "removes the channel from every group this layer added it to",
    );
  });
});
