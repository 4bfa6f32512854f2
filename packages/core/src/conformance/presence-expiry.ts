import { describe, expect, it } from "vitest";
import type { PresenceChannelLayer, PresenceList } from "../presence.js";
import { describeValue, expectNothing, expectReceive, type SuiteContext, sleep } from "./context.js";
import { diff, presenceOf } from "./presence.js";

/**
 * Waits until `layer` lists nobody in `group`, polling each heartbeat; fails after `limitMs`.
 * Resolves with how long it took.
 */
async function listedNobodyWithin(
  layer: PresenceChannelLayer,
  group: string,
  pollMs: number,
  limitMs: number,
): Promise<number> {
  const started = Date.now();
  let list: PresenceList = {};
  for (;;) {
    list = await layer.presenceList(group);
    if (Object.keys(list).length === 0) return Date.now() - started;
    if (Date.now() - started > limitMs) break;
    await sleep(pollMs);
  }
  throw new Error(`${group} still lists ${describeValue(list)} ${limitMs} ms after its refreshes stopped`);
}

/** How many leaves each ref got in `diffs`, over all of them. */
function leavesByRef(diffs: readonly Record<string, unknown>[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const message of diffs) {
    for (const { metas } of Object.values(message.leaves as PresenceList)) {
      for (const { ref } of metas) counts[ref] = (counts[ref] ?? 0) + 1;
    }
  }
  return counts;
}

export function presenceExpiryTests(ctx: SuiteContext): void {
  const heartbeatMs = 100 * (ctx.options.timeScale ?? 1);
  // Ten heartbeats: a loaded machine may miss several without a live entry lapsing.
  const timeoutMs = 10 * heartbeatMs;
  const timing = { presenceHeartbeatMs: heartbeatMs, presenceTimeoutMs: timeoutMs };
  // The documented bound is timeout + heartbeat; a loaded machine gets one arrival wait more.
  const limitMs = timeoutMs + heartbeatMs + ctx.arrivalMs;
  const waits = (limitMs + timeoutMs * 3) / ctx.arrivalMs + 4;

  describe("presence expiry", () => {
    it(
      "keeps a live instance's presences well past the timeout: its heartbeats refresh them",
      ctx.timeout(waits),
      async ({ skip }) => {
        if (!ctx.supports("presence")) skip();
        const layer = presenceOf(await ctx.layer(timing));
        const [channel, watcher] = [await layer.newChannel(), await layer.newChannel()];
        await layer.groupAdd("alive", watcher);
        const ref = await layer.presenceTrack("alive", channel, "ivan");
        await expectReceive(layer, watcher, diff("alive", { ivan: { metas: [{ ref }] } }, {}), ctx.arrivalMs);
        await expectNothing(layer, watcher, timeoutMs * 3, "a live instance's presence never lapses");
        expect(await layer.presenceList("alive")).toEqual({ ivan: { metas: [{ ref }] } });
      },
    );

    it(
      "removes presences whose refreshes stopped within the timeout and a heartbeat, with one leave diff; they come back when refreshes resume",
      ctx.timeout(waits * 2),
      async ({ skip }) => {
        if (!ctx.supports("presence")) skip();
        const layer = presenceOf(await ctx.layer(timing));
        const control = ctx.presenceControl(layer);
        if (control === undefined) return skip("no presence test hooks for this layer");
        const [channel, watcher] = [await layer.newChannel(), await layer.newChannel()];
        await layer.groupAdd("paused", watcher);
        const ref = await layer.presenceTrack("paused", channel, "judy", { n: 1 });
        const present = { judy: { metas: [{ n: 1, ref }] } };
        await expectReceive(layer, watcher, diff("paused", present, {}), ctx.arrivalMs);
        control.pauseRefresh();
        await listedNobodyWithin(layer, "paused", heartbeatMs, limitMs);
        await expectReceive(layer, watcher, diff("paused", {}, present), ctx.arrivalMs);
        await expectNothing(layer, watcher, heartbeatMs * 3, "the lapsed presence left once");
        await control.resumeRefresh();
        await expectReceive(layer, watcher, diff("paused", present, {}), ctx.arrivalMs);
        expect(await layer.presenceList("paused"), "tracked again, with the same ref").toEqual(present);
      },
    );

    it(
      "sends a re-track's join without the replaced presence's leave when a sweep removed that presence and sent its leave",
      ctx.timeout(waits * 2),
      async ({ skip }) => {
        if (!ctx.supports("presence")) skip();
        const layer = presenceOf(await ctx.layer(timing));
        const control = ctx.presenceControl(layer);
        if (control === undefined) return skip("no presence test hooks for this layer");
        const [channel, watcher] = [await layer.newChannel(), await layer.newChannel()];
        await layer.groupAdd("lapsed-retrack", watcher);
        const oldRef = await layer.presenceTrack("lapsed-retrack", channel, "olga", { n: 1 });
        const old = { olga: { metas: [{ n: 1, ref: oldRef }] } };
        const seen = [await expectReceive(layer, watcher, diff("lapsed-retrack", old, {}), ctx.arrivalMs)];
        control.pauseRefresh();
        await listedNobodyWithin(layer, "lapsed-retrack", heartbeatMs, limitMs);
        seen.push(await expectReceive(layer, watcher, diff("lapsed-retrack", {}, old), ctx.arrivalMs));
        // The base still holds the old track (its refreshes stopped, nothing told it), so it replaces it.
        const newRef = await layer.presenceTrack("lapsed-retrack", channel, "olga", { n: 2 });
        const now = { olga: { metas: [{ n: 2, ref: newRef }] } };
        seen.push(await expectReceive(layer, watcher, diff("lapsed-retrack", now, {}), ctx.arrivalMs));
        await control.resumeRefresh();
        await expectNothing(layer, watcher, heartbeatMs * 3, "the new presence is refreshed and the old one left once");
        expect(await layer.presenceList("lapsed-retrack")).toEqual(now);
        await layer.presenceUntrack("lapsed-retrack", channel, "olga");
        seen.push(await expectReceive(layer, watcher, diff("lapsed-retrack", {}, now), ctx.arrivalMs));
        await expectNothing(layer, watcher, heartbeatMs * 3, "each presence leaves once");
        expect(leavesByRef(seen), "each ref's leave, seen once").toEqual({ [oldRef]: 1, [newRef]: 1 });
      },
    );
  });

  describe.runIf(ctx.options.crossInstance)("presence expiry across instances", () => {
    it(
      "removes a crashed instance's presences, as the other instance sees them, with one leave diff",
      ctx.timeout(waits),
      async ({ skip }) => {
        if (!ctx.supports("presence")) skip();
        const [a, b] = (await ctx.layerPair(timing)).map(presenceOf) as [PresenceChannelLayer, PresenceChannelLayer];
        const control = ctx.presenceControl(a);
        if (control === undefined) return skip("no presence test hooks for this layer");
        const watcher = await b.newChannel();
        await b.groupAdd("crashed", watcher);
        // b uses presence too, so it sweeps; a's entry and b's own are in the group.
        const survivorRef = await b.presenceTrack("crashed", watcher, "survivor");
        const deadRef = await a.presenceTrack("crashed", await a.newChannel(), "kate");
        await expectReceive(
          b,
          watcher,
          diff("crashed", { survivor: { metas: [{ ref: survivorRef }] } }, {}),
          ctx.arrivalMs,
        );
        await expectReceive(b, watcher, diff("crashed", { kate: { metas: [{ ref: deadRef }] } }, {}), ctx.arrivalMs);
        control.crash();
        await expectReceive(b, watcher, diff("crashed", {}, { kate: { metas: [{ ref: deadRef }] } }), limitMs);
        expect(await b.presenceList("crashed")).toEqual({ survivor: { metas: [{ ref: survivorRef }] } });
        await expectNothing(b, watcher, timeoutMs * 2, "the dead presence left once, and the survivor stays");
      },
    );

    it(
      "sends one leave diff for a stalled instance's presences while both instances sweep",
      ctx.timeout(waits * 2),
      async ({ skip }) => {
        if (!ctx.supports("presence")) skip();
        const [a, b] = (await ctx.layerPair(timing)).map(presenceOf) as [PresenceChannelLayer, PresenceChannelLayer];
        const control = ctx.presenceControl(a);
        if (control === undefined) return skip("no presence test hooks for this layer");
        const [onA, onB] = [await a.newChannel(), await b.newChannel()];
        await a.groupAdd("stalled", onA);
        await b.groupAdd("stalled", onB);
        await b.presenceList("stalled");
        const refs = [await a.presenceTrack("stalled", onA, "leo"), await a.presenceTrack("stalled", onA, "mia")];
        const present = { leo: { metas: [{ ref: refs[0] as string }] }, mia: { metas: [{ ref: refs[1] as string }] } };
        for (const [layer, channel] of [
          [a, onA],
          [b, onB],
        ] as const) {
          await expectReceive(layer, channel, diff("stalled", { leo: present.leo }, {}), ctx.arrivalMs);
          await expectReceive(layer, channel, diff("stalled", { mia: present.mia }, {}), ctx.arrivalMs);
        }
        control.pauseRefresh();
        await listedNobodyWithin(b, "stalled", heartbeatMs, limitMs);
        const leaves: unknown[] = [];
        for (const [layer, channel] of [
          [a, onA],
          [b, onB],
        ] as const) {
          const first = await expectReceive(
            layer,
            channel,
            expect.objectContaining({ type: "presence.diff" }),
            ctx.arrivalMs,
          );
          leaves.push(first);
          // One sweep took both, or two sweeps one each: either way every entry leaves exactly once.
          if (Object.keys(first.leaves as object).length === 1) {
            leaves.push(
              await expectReceive(layer, channel, expect.objectContaining({ type: "presence.diff" }), ctx.arrivalMs),
            );
          }
          await expectNothing(layer, channel, heartbeatMs * 3, "each lapsed presence leaves once");
        }
        const left = leaves.flatMap((message) => Object.entries((message as { leaves: PresenceList }).leaves));
        expect(
          left.sort(([x], [y]) => x.localeCompare(y)),
          "each member got each leave once",
        ).toEqual([...Object.entries(present), ...Object.entries(present)].sort(([x], [y]) => x.localeCompare(y)));
      },
    );

    it(
      "sends a stalled instance's re-track without a second leave for the presence a sweep removed, as both instances' members see",
      ctx.timeout(waits * 2),
      async ({ skip }) => {
        if (!ctx.supports("presence")) skip();
        const [a, b] = (await ctx.layerPair(timing)).map(presenceOf) as [PresenceChannelLayer, PresenceChannelLayer];
        const control = ctx.presenceControl(a);
        if (control === undefined) return skip("no presence test hooks for this layer");
        const members = [
          [a, await a.newChannel()],
          [b, await b.newChannel()],
        ] as const;
        for (const [layer, member] of members) await layer.groupAdd("stalled-retrack", member);
        // b uses presence too, so it sweeps: either instance may remove a's lapsed entry.
        await b.presenceList("stalled-retrack");
        const tracked = await a.newChannel();
        const oldRef = await a.presenceTrack("stalled-retrack", tracked, "pia", { n: 1 });
        const old = { pia: { metas: [{ n: 1, ref: oldRef }] } };
        const seen: Record<string, unknown>[] = [];
        const expectEach = async (joins: PresenceList, leaves: PresenceList) => {
          for (const [layer, member] of members) {
            seen.push(await expectReceive(layer, member, diff("stalled-retrack", joins, leaves), ctx.arrivalMs));
          }
        };
        await expectEach(old, {});
        control.pauseRefresh();
        await listedNobodyWithin(b, "stalled-retrack", heartbeatMs, limitMs);
        await expectEach({}, old);
        // a comes back and tracks the same group, channel and key again before its next heartbeat.
        const newRef = await a.presenceTrack("stalled-retrack", tracked, "pia", { n: 2 });
        const now = { pia: { metas: [{ n: 2, ref: newRef }] } };
        await expectEach(now, {});
        await control.resumeRefresh();
        for (const [layer, member] of members) {
          await expectNothing(
            layer,
            member,
            heartbeatMs * 3,
            "the new presence is refreshed and the old one left once",
          );
        }
        expect(await b.presenceList("stalled-retrack")).toEqual(now);
        await a.presenceUntrack("stalled-retrack", tracked, "pia");
        await expectEach({}, now);
        for (const [layer, member] of members) {
          await expectNothing(layer, member, heartbeatMs * 3, "each presence leaves once");
        }
        expect(leavesByRef(seen), "each ref's leave, seen once by each member").toEqual({ [oldRef]: 2, [newRef]: 2 });
      },
    );
  });
}
