import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { startVitest } from "vitest/node";
import type { Fault } from "./fixtures/faulty-layers.js";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures");

/** Runs the suite against a deliberately broken layer and returns the names of the tests that failed. */
async function failingTests(fault: Fault, testNamePattern: RegExp): Promise<string[]> {
  return [...(await failures(fault, testNamePattern)).keys()];
}

/** The tests that failed against a deliberately broken layer, each with the first error a user would read. */
async function failures(fault: Fault, testNamePattern: RegExp): Promise<Map<string, string>> {
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
  const failed = new Map<string, string>();
  type Task = {
    type: string;
    name: string;
    result?: { state?: string; errors?: { message?: string }[] };
    tasks?: Task[];
  };
  const visit = (task: Task) => {
    if (task.type === "test" && task.result?.state === "fail") {
      failed.set(task.name, task.result.errors?.[0]?.message ?? "");
    }
    for (const child of task.tasks ?? []) visit(child);
  };
  for (const file of vitest.state.getFiles()) visit(file as unknown as Task);
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

  it("a layer whose presence sweep does not claim what it removes", async () => {
    const failed = await failures("sweeps-twice", /presence/);
    const test =
      "removes presences whose refreshes stopped within the timeout and a heartbeat, with one leave diff; they come back when refreshes resume";
    expect([...failed.keys()]).toContain(test);
    expect(failed.get(test)).toMatch(
      /should receive nothing \(the lapsed presence left once\), but received \{"type":"presence.diff"/,
    );
  });

  it("a layer whose re-track does not say the replaced presence was already swept", async () => {
    const failed = await failures("replaces-without-asking", /presence/);
    const test =
      "sends a re-track's join without the replaced presence's leave when a sweep removed that presence and sent its leave";
    expect([...failed.keys()]).toContain(test);
    expect(failed.get(test)).toMatch(
      /should receive \{"type":"presence.diff","group":"lapsed-retrack","joins":\{"olga":.*"leaves":\{\}\}, but received .*"leaves":\{"olga"/,
    );
  });

  it("a layer whose history never admits a gap", async () => {
    expect(await failingTests("history-always-complete", /trims/)).toEqual(
      expect.arrayContaining([
        "trims to maxLength: an offset older than what is kept gives complete=false and the kept messages",
        "trims by maxAgeMs: messages older than it are gone, and asking from before them gives complete=false",
      ]),
    );
  });

  // The three bugs a user's first backend most often has; docs/conformance.md quotes these messages.
  it("a layer whose groupSend skips a member", async () => {
    const failed = await failures("skips-a-group-member", /every member of a group|own copy/);
    expect([...failed.keys()]).toEqual(
      expect.arrayContaining([
        "sends to every member of a group and to nobody else",
        "gives every member its own copy of the message",
      ]),
    );
    expect(failed.get("sends to every member of a group and to nobody else")).toMatch(
      /No message arrived on named-member within \d+ ms; expected \{"type":"chat.message","text":"hi"\}/,
    );
  });

  it("a layer that receives last in, first out", async () => {
    const failed = await failures("receives-last-in-first-out", /order/);
    expect([...failed.keys()]).toContain("keeps send order per channel");
    expect(failed.get("keeps send order per channel")).toMatch(
      /ordered-channel should receive n = 0\.\.49 in send order, but received \[49,48,/,
    );
  });

  it("a layer that stores the sender's object instead of a copy", async () => {
    const failed = await failures("stores-without-copying", /changes its object|own copy/);
    expect([...failed.keys()]).toContain("keeps what was sent when the sender changes its object afterwards");
    expect(failed.get("keeps what was sent when the sender changes its object afterwards")).toMatch(
      /should receive \{"type":"snapshot","list":\[1\],"nested":\{"n":1\},"bytes":\[1\]\} as sent, but received \{"type":"snapshot","list":\[1,2\],"nested":\{"n":2\},"bytes":\[2\]\}/,
    );
  });
});
