import { describe, expect, it } from "vitest";
import type { ChannelLayer } from "../channel-layer.js";
import type { PresenceChannelLayer, PresenceList } from "../presence.js";
import {
  describeValue,
  expectNothing,
  expectReceive,
  rejectionOf,
  type SuiteContext,
  settleBeforeIo,
} from "./context.js";

/** The suite's layers are plain ChannelLayers; these tests run only when "presence" is listed. */
export function presenceOf(layer: ChannelLayer): PresenceChannelLayer {
  return layer as PresenceChannelLayer;
}

/** The diff a group's members should get. */
export function diff(group: string, joins: PresenceList, leaves: PresenceList): Record<string, unknown> {
  return { type: "presence.diff", group, joins, leaves };
}

export function presenceTests(ctx: SuiteContext): void {
  describe("presence", () => {
    it(
      "lists a tracked key with its meta and ref, and nothing once it is untracked",
      ctx.timeout(),
      async ({ skip }) => {
        if (!ctx.supports("presence")) skip();
        const layer = presenceOf(await ctx.layer());
        const channel = await layer.newChannel();
        const ref = await layer.presenceTrack("lobby", channel, "alice", { status: "online", tabs: [1] });
        expect(typeof ref, "presenceTrack resolves with the track's ref, a string").toBe("string");
        expect(await layer.presenceList("lobby")).toEqual({
          alice: { metas: [{ status: "online", tabs: [1], ref }] },
        });
        expect(await layer.presenceList("elsewhere"), "another group lists nobody").toEqual({});
        await layer.presenceUntrack("lobby", channel, "alice");
        expect(await layer.presenceList("lobby")).toEqual({});
      },
    );

    it(
      "lists one meta per track: a key through several channels, and several keys",
      ctx.timeout(),
      async ({ skip }) => {
        if (!ctx.supports("presence")) skip();
        const layer = presenceOf(await ctx.layer());
        const [laptop, phone, other] = [await layer.newChannel(), await layer.newChannel(), await layer.newChannel()];
        const laptopRef = await layer.presenceTrack("room", laptop, "alice", { device: "laptop" });
        const phoneRef = await layer.presenceTrack("room", phone, "alice", { device: "phone" });
        const bobRef = await layer.presenceTrack("room", other, "bob");
        await layer.presenceTrack("other-room", other, "bob");
        const list = await layer.presenceList("room");
        expect(Object.keys(list).sort()).toEqual(["alice", "bob"]);
        expect(list.alice?.metas).toHaveLength(2);
        expect(list.alice?.metas).toEqual(
          expect.arrayContaining([
            { device: "laptop", ref: laptopRef },
            { device: "phone", ref: phoneRef },
          ]),
        );
        expect(list.bob).toEqual({ metas: [{ ref: bobRef }] });
        expect(new Set([laptopRef, phoneRef, bobRef]).size, "every track has its own ref").toBe(3);
        await layer.presenceUntrack("room", phone, "alice");
        expect(await layer.presenceList("room")).toEqual({
          alice: { metas: [{ device: "laptop", ref: laptopRef }] },
          bob: { metas: [{ ref: bobRef }] },
        });
      },
    );

    it(
      "sends the group's members a join diff on track and a leave diff on untrack, once each",
      ctx.timeout(),
      async ({ skip }) => {
        if (!ctx.supports("presence")) skip();
        const layer = presenceOf(await ctx.layer());
        const [tracked, watcher, outsider] = [
          await layer.newChannel(),
          await layer.newChannel(),
          await layer.newChannel(),
        ];
        await layer.groupAdd("diffs", tracked);
        await layer.groupAdd("diffs", watcher);
        const ref = await layer.presenceTrack("diffs", tracked, "carol", { mood: "fine" });
        const joined = diff("diffs", { carol: { metas: [{ mood: "fine", ref }] } }, {});
        await expectReceive(layer, watcher, joined, ctx.arrivalMs);
        await expectReceive(layer, tracked, joined, ctx.arrivalMs);
        await layer.presenceUntrack("diffs", tracked, "carol");
        const left = diff("diffs", {}, { carol: { metas: [{ mood: "fine", ref }] } });
        await expectReceive(layer, watcher, left, ctx.arrivalMs);
        await expectNothing(layer, watcher, ctx.silenceMs, "each diff is delivered once");
        await expectNothing(layer, outsider, ctx.silenceMs, "it is not in the group");
      },
    );

    it(
      "replaces the meta when the same group, channel and key is tracked again: one diff, a leave and a join",
      ctx.timeout(),
      async ({ skip }) => {
        if (!ctx.supports("presence")) skip();
        const layer = presenceOf(await ctx.layer());
        const [channel, watcher] = [await layer.newChannel(), await layer.newChannel()];
        await layer.groupAdd("retrack", watcher);
        const first = await layer.presenceTrack("retrack", channel, "dave", { status: "online" });
        await expectReceive(
          layer,
          watcher,
          diff("retrack", { dave: { metas: [{ status: "online", ref: first }] } }, {}),
          ctx.arrivalMs,
        );
        const second = await layer.presenceTrack("retrack", channel, "dave", { status: "away" });
        expect(second, "a new track gets a new ref").not.toBe(first);
        await expectReceive(
          layer,
          watcher,
          diff(
            "retrack",
            { dave: { metas: [{ status: "away", ref: second }] } },
            { dave: { metas: [{ status: "online", ref: first }] } },
          ),
          ctx.arrivalMs,
        );
        expect(await layer.presenceList("retrack")).toEqual({ dave: { metas: [{ status: "away", ref: second }] } });
      },
    );

    it(
      "untracks every presence of a channel on discardChannel, sending the leaves",
      ctx.timeout(),
      async ({ skip }) => {
        if (!ctx.supports("presence") || !ctx.supports("groups")) skip();
        const layer = presenceOf(await ctx.layer());
        const [gone, staying] = [await layer.newChannel(), await layer.newChannel()];
        await layer.groupAdd("discard-a", staying);
        const refA = await layer.presenceTrack("discard-a", gone, "erin");
        const refB = await layer.presenceTrack("discard-b", gone, "erin");
        const keptRef = await layer.presenceTrack("discard-a", staying, "frank");
        await expectReceive(layer, staying, diff("discard-a", { erin: { metas: [{ ref: refA }] } }, {}), ctx.arrivalMs);
        await expectReceive(
          layer,
          staying,
          diff("discard-a", { frank: { metas: [{ ref: keptRef }] } }, {}),
          ctx.arrivalMs,
        );
        await layer.discardChannel(gone);
        await expectReceive(layer, staying, diff("discard-a", {}, { erin: { metas: [{ ref: refA }] } }), ctx.arrivalMs);
        expect(await layer.presenceList("discard-a")).toEqual({ frank: { metas: [{ ref: keptRef }] } });
        expect(await layer.presenceList("discard-b"), `the track ${refB} went too`).toEqual({});
      },
    );

    it(
      "lists every key while their instance refreshes them (a refresh may move entries under the read)",
      ctx.timeout(),
      async ({ skip }) => {
        if (!ctx.supports("presence")) skip();
        const layer = presenceOf(await ctx.layer());
        const control = ctx.presenceControl(layer);
        if (control === undefined) return skip("no presence test hooks for this layer");
        const channel = await layer.newChannel();
        const keys = Array.from({ length: 200 }, (_, n) => `k${String(n).padStart(3, "0")}`);
        await Promise.all(keys.map((key) => layer.presenceTrack("refreshing", channel, key)));
        for (let round = 0; round < 5; round++) {
          // resumeRefresh refreshes every entry of the instance at once, alongside the list.
          const [list] = await Promise.all([layer.presenceList("refreshing"), control.resumeRefresh()]);
          expect(Object.keys(list).sort(), `round ${round}`).toEqual(keys);
        }
      },
    );

    it("treats untrack of what was never tracked as a no-op without a diff", ctx.timeout(), async ({ skip }) => {
      if (!ctx.supports("presence")) skip();
      const layer = presenceOf(await ctx.layer());
      const [channel, watcher] = [await layer.newChannel(), await layer.newChannel()];
      await layer.groupAdd("noop", watcher);
      await expect(layer.presenceUntrack("noop", channel, "nobody")).resolves.toBeUndefined();
      await expectNothing(layer, watcher, ctx.silenceMs, "nothing was tracked, so nothing left");
    });

    it("rejects bad groups, channels, keys and metas before any I/O", ctx.timeout(), async ({ skip }) => {
      if (!ctx.supports("presence")) skip();
      const layer = presenceOf(await ctx.layer());
      const channel = await layer.newChannel();
      const cases: [string, () => Promise<unknown>, string][] = [
        ["a bad group", () => layer.presenceTrack("bad group", channel, "k"), "INVALID_NAME"],
        ["a bad channel", () => layer.presenceTrack("g", "bad channel", "k"), "INVALID_NAME"],
        ["an empty key", () => layer.presenceTrack("g", channel, ""), "INVALID_ARGUMENT"],
        ["a number key", () => layer.presenceTrack("g", channel, 7 as unknown as string), "INVALID_ARGUMENT"],
        ["a 201-character key", () => layer.presenceTrack("g", channel, "k".repeat(201)), "INVALID_ARGUMENT"],
        ["a meta with ref", () => layer.presenceTrack("g", channel, "k", { ref: "mine" }), "INVALID_ARGUMENT"],
        ["an array meta", () => layer.presenceTrack("g", channel, "k", [] as never), "INVALID_MESSAGE"],
        ["a meta with a function", () => layer.presenceTrack("g", channel, "k", { f: () => 1 }), "INVALID_MESSAGE"],
        ["untrack with a bad key", () => layer.presenceUntrack("g", channel, ""), "INVALID_ARGUMENT"],
        ["list of a bad group", () => layer.presenceList("bad/group"), "INVALID_NAME"],
      ];
      for (const [what, call, code] of cases) {
        const outcome = await settleBeforeIo(call());
        expect(outcome.settled, `${what} should be refused before any I/O`).toBe(true);
        expect(outcome.error, `${what}: ${describeValue(outcome.error)}`).toMatchObject({ code });
      }
      expect(await layer.presenceList("g"), "nothing was tracked").toEqual({});
    });

    it("forgets presence entries on flush", ctx.timeout(), async ({ skip }) => {
      if (!ctx.supports("presence") || !ctx.supports("flush")) skip();
      const layer = presenceOf(await ctx.layer());
      await layer.presenceTrack("flushed", await layer.newChannel(), "gina");
      await layer.flush();
      expect(await layer.presenceList("flushed")).toEqual({});
    });

    it("rejects every presence call with LAYER_CLOSED after close", ctx.timeout(), async ({ skip }) => {
      if (!ctx.supports("presence")) skip();
      const layer = presenceOf(await ctx.layer());
      const channel = await layer.newChannel();
      await layer.close();
      for (const call of [
        () => layer.presenceTrack("g", channel, "k"),
        () => layer.presenceUntrack("g", channel, "k"),
        () => layer.presenceList("g"),
      ]) {
        expect(await rejectionOf(call())).toMatchObject({ code: "LAYER_CLOSED" });
      }
    });
  });

  describe.runIf(ctx.options.crossInstance)("presence across instances", () => {
    it(
      "lists the presences of both instances, and each one's diffs reach the other's members",
      ctx.timeout(),
      async ({ skip }) => {
        if (!ctx.supports("presence")) skip();
        const [a, b] = (await ctx.layerPair()).map(presenceOf) as [PresenceChannelLayer, PresenceChannelLayer];
        const [onA, onB] = [await a.newChannel(), await b.newChannel()];
        await a.groupAdd("cross-presence", onA);
        await b.groupAdd("cross-presence", onB);
        const refA = await a.presenceTrack("cross-presence", onA, "alice", { on: "a" });
        await expectReceive(
          b,
          onB,
          diff("cross-presence", { alice: { metas: [{ on: "a", ref: refA }] } }, {}),
          ctx.arrivalMs,
        );
        const refB = await b.presenceTrack("cross-presence", onB, "alice", { on: "b" });
        await expectReceive(
          a,
          onA,
          diff("cross-presence", { alice: { metas: [{ on: "a", ref: refA }] } }, {}),
          ctx.arrivalMs,
        );
        await expectReceive(
          a,
          onA,
          diff("cross-presence", { alice: { metas: [{ on: "b", ref: refB }] } }, {}),
          ctx.arrivalMs,
        );
        for (const layer of [a, b]) {
          const list = await layer.presenceList("cross-presence");
          expect(list.alice?.metas, "both instances list both tracks").toEqual(
            expect.arrayContaining([
              { on: "a", ref: refA },
              { on: "b", ref: refB },
            ]),
          );
          expect(list.alice?.metas).toHaveLength(2);
        }
        await a.presenceUntrack("cross-presence", onA, "alice");
        await expectReceive(
          b,
          onB,
          diff("cross-presence", { alice: { metas: [{ on: "b", ref: refB }] } }, {}),
          ctx.arrivalMs,
        );
        await expectReceive(
          b,
          onB,
          diff("cross-presence", {}, { alice: { metas: [{ on: "a", ref: refA }] } }),
          ctx.arrivalMs,
        );
        expect(await b.presenceList("cross-presence")).toEqual({ alice: { metas: [{ on: "b", ref: refB }] } });
      },
    );

    it(
      "untracks an instance's presences when it closes, and the other's members get the leaves",
      ctx.timeout(),
      async ({ skip }) => {
        if (!ctx.supports("presence")) skip();
        const [a, b] = (await ctx.layerPair()).map(presenceOf) as [PresenceChannelLayer, PresenceChannelLayer];
        const watcher = await b.newChannel();
        await b.groupAdd("closing-presence", watcher);
        const ref = await a.presenceTrack("closing-presence", await a.newChannel(), "hank");
        await expectReceive(b, watcher, diff("closing-presence", { hank: { metas: [{ ref }] } }, {}), ctx.arrivalMs);
        await a.close();
        await expectReceive(b, watcher, diff("closing-presence", {}, { hank: { metas: [{ ref }] } }), ctx.arrivalMs);
        expect(await b.presenceList("closing-presence")).toEqual({});
      },
    );
  });
}
