import { describe, expect, it } from "vitest";
import type { ChannelLayer } from "../channel-layer.js";
import { ChannelLayerError } from "../errors.js";
import { describeValue, expectNothing, expectReceive, type SuiteContext, settleBeforeIo } from "./context.js";

const CHANNEL_NAME = /^[a-zA-Z\d\-_.]+(![\d\w\-_.]*)?$/;

/** Names no channel or group may have. */
export const INVALID_NAMES: readonly unknown[] = [
  "",
  "a".repeat(100),
  "with space",
  "tab\tname",
  "slash/name",
  "star*",
  "wild>",
  "colon:name",
  "ümlaut",
  "emoji🎉",
  "!leading-bang",
  "two!bangs!",
  "new\nline",
  123,
  null,
  undefined,
  {},
  ["list"],
  Symbol("name"),
];

/** Group names that are valid channel names, but not valid group names. */
const INVALID_GROUP_ONLY = ["group!local", "specific.abc!def"];

async function expectInvalidName(call: () => Promise<unknown>, label: string): Promise<void> {
  const outcome = await settleBeforeIo(call());
  expect(outcome.settled, `${label} should reject before any I/O, but had not settled`).toBe(true);
  expect(
    outcome.error,
    `${label} should reject with a ChannelLayerError, got ${describeValue(outcome.error)}`,
  ).toBeInstanceOf(ChannelLayerError);
  expect((outcome.error as ChannelLayerError).code, `${label} should reject with INVALID_NAME`).toBe("INVALID_NAME");
}

function callsWithName(layer: ChannelLayer, name: unknown): [string, () => Promise<unknown>][] {
  const any = name as string;
  const message = { type: "test.message" };
  return [
    ["send", () => layer.send(any, message)],
    ["receive", () => layer.receive(any)],
    ["groupAdd channel", () => layer.groupAdd("valid-group", any)],
    ["groupAdd group", () => layer.groupAdd(any, "valid-channel")],
    ["groupDiscard channel", () => layer.groupDiscard("valid-group", any)],
    ["groupDiscard group", () => layer.groupDiscard(any, "valid-channel")],
    ["groupSend group", () => layer.groupSend(any, message)],
    ["discardChannel", () => layer.discardChannel(any)],
  ];
}

export function nameTests(ctx: SuiteContext): void {
  describe("names", () => {
    it("makes unique, valid, process-local channel names with the default prefix", ctx.timeout(), async () => {
      const layer = await ctx.layer();
      const names = await Promise.all(Array.from({ length: 2000 }, () => layer.newChannel()));
      expect(new Set(names).size, "2000 newChannel() names should all differ").toBe(names.length);
      for (const name of names) {
        expect(name, "a newChannel() name should be a valid channel name").toMatch(CHANNEL_NAME);
        expect(name.length, `${name} should be shorter than 100 characters`).toBeLessThan(100);
        expect(name.startsWith("specific."), `${name} should start with the default prefix "specific."`).toBe(true);
        expect(name, `${name} should be process-local (hold a "!")`).toContain("!");
      }
    });

    it("makes names unique across layer instances", ctx.timeout(), async () => {
      const [a, b] = [await ctx.layer(), await ctx.layer()];
      const names = [
        ...(await Promise.all(Array.from({ length: 500 }, () => a.newChannel()))),
        ...(await Promise.all(Array.from({ length: 500 }, () => b.newChannel()))),
      ];
      expect(new Set(names).size, "500 names from each of two instances should all differ").toBe(1000);
    });

    it("uses a custom newChannel prefix and rejects an invalid one", ctx.timeout(), async () => {
      const layer = await ctx.layer();
      const name = await layer.newChannel("chat-room_1.x");
      expect(name.startsWith("chat-room_1.x."), `${name} should start with the prefix given`).toBe(true);
      expect(name, "a newChannel() name should be a valid channel name").toMatch(CHANNEL_NAME);
      for (const prefix of ["", "bad prefix", "bang!", "a".repeat(90), 5]) {
        await expect(layer.newChannel(prefix as string), `newChannel(${describeValue(prefix)})`).rejects.toMatchObject({
          code: "INVALID_NAME",
        });
      }
    });

    it("lets only the instance that made a process-local channel receive on it", ctx.timeout(), async () => {
      const [maker, other] = [await ctx.layer(), await ctx.layer()];
      const channel = await maker.newChannel();
      await expect(other.receive(channel), "receive on another instance's channel").rejects.toMatchObject({
        code: "NOT_LOCAL_CHANNEL",
      });
      await maker.send(channel, { type: "still.there" });
      await expectReceive(maker, channel, { type: "still.there" }, ctx.arrivalMs);
    });

    it("accepts names of 99 characters and every allowed character", ctx.timeout(), async ({ skip }) => {
      if (!ctx.supports("buffered")) skip();
      const layer = await ctx.layer();
      const long = "a".repeat(99);
      const mixed = "Az09-_.";
      for (const channel of [long, mixed]) {
        await layer.send(channel, { type: "edge" });
        await expectReceive(layer, channel, { type: "edge" }, ctx.arrivalMs);
      }
      if (ctx.supports("groups")) {
        await layer.groupAdd(long, mixed);
        await layer.groupSend(long, { type: "edge.group" });
        await expectReceive(layer, mixed, { type: "edge.group" }, ctx.arrivalMs);
      }
    });

    it("rejects every invalid name with INVALID_NAME before any I/O, on every call", ctx.timeout(), async () => {
      const layer = await ctx.layer();
      for (const name of INVALID_NAMES) {
        for (const [label, call] of callsWithName(layer, name)) {
          await expectInvalidName(
            call,
            `${label}(${String(typeof name === "symbol" ? "symbol" : JSON.stringify(name))})`,
          );
        }
      }
      for (const name of INVALID_GROUP_ONLY) {
        await expectInvalidName(() => layer.groupAdd(name, "valid-channel"), `groupAdd group ${name}`);
        await expectInvalidName(() => layer.groupSend(name, { type: "x" }), `groupSend ${name}`);
      }
      await expectNothing(layer, "valid-channel", ctx.silenceMs, "every call had an invalid name");
    });
  });
}
