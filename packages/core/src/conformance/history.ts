import { describe, expect, it } from "vitest";
import type { ChannelLayer } from "../channel-layer.js";
import type { GroupHistoryPattern, HistoryChannelLayer, HistoryOffset } from "../history.js";
import type { PresenceChannelLayer } from "../presence.js";
import {
  countingProblems,
  describeValue,
  expectNothing,
  receiveWithin,
  rejectionOf,
  type SuiteContext,
  settleBeforeIo,
  sleep,
} from "./context.js";

const RULES: readonly GroupHistoryPattern[] = [
  ["kept-*", { maxLength: 100 }],
  ["short-*", { maxLength: 10 }],
  [/^aged-/, { maxLength: 100, maxAgeMs: 400 }],
];

function historyOf(layer: ChannelLayer): HistoryChannelLayer {
  return layer as HistoryChannelLayer;
}

/** Sends n = from..to-1 to `group` and receives them on `member`; returns what arrived, in order. */
async function sendAndReceive(
  layer: ChannelLayer,
  group: string,
  member: string,
  count: number,
  arrivalMs: number,
  from = 0,
): Promise<Record<string, unknown>[]> {
  for (let n = from; n < from + count; n++) await layer.groupSend(group, { type: "history.message", n });
  const received: Record<string, unknown>[] = [];
  for (let i = 0; i < count; i++) received.push(await receiveWithin(layer, member, arrivalMs, { n: from + i }));
  return received;
}

function offsetsOf(messages: readonly Record<string, unknown>[]): HistoryOffset[] {
  return messages.map((message) => message.__offset__ as HistoryOffset);
}

export function historyTests(ctx: SuiteContext): void {
  const scale = ctx.options.timeScale ?? 1;
  const rules: readonly GroupHistoryPattern[] = RULES.map(([pattern, rule]) => [
    pattern,
    rule.maxAgeMs === undefined ? rule : { ...rule, maxAgeMs: rule.maxAgeMs * scale },
  ]);
  const options = { groupHistory: rules, capacity: 200 };

  describe("history", () => {
    it(
      "stamps each message of a history group with __group__ and an __offset__ of its own",
      ctx.timeout(),
      async ({ skip }) => {
        if (!ctx.supports("history")) skip();
        const layer = historyOf(await ctx.layer(options));
        const member = await layer.newChannel();
        await layer.groupAdd("kept-one", member);
        await layer.groupAdd("kept-two", member);
        const one = await sendAndReceive(layer, "kept-one", member, 5, ctx.arrivalMs);
        const two = await sendAndReceive(layer, "kept-two", member, 3, ctx.arrivalMs, 5);
        for (const [group, messages] of [
          ["kept-one", one],
          ["kept-two", two],
        ] as const) {
          for (const message of messages) {
            expect(message.__group__, describeValue(message)).toBe(group);
            expect(["string", "number"], `__offset__ of ${describeValue(message)}`).toContain(
              typeof message.__offset__,
            );
          }
          expect(new Set(offsetsOf(messages)).size, `offsets of ${group} are all different`).toBe(messages.length);
        }
        expect(one.map((message) => message.n)).toEqual([0, 1, 2, 3, 4]);
      },
    );

    it(
      "returns the 50 messages after an offset in order, without duplicates, as members got them",
      ctx.timeout(6),
      async ({ skip }) => {
        if (!ctx.supports("history")) skip();
        const layer = historyOf(await ctx.layer(options));
        const member = await layer.newChannel();
        await layer.groupAdd("kept-fifty", member);
        const [first] = await sendAndReceive(layer, "kept-fifty", member, 1, ctx.arrivalMs);
        const fifty = await sendAndReceive(layer, "kept-fifty", member, 50, ctx.arrivalMs, 1);
        const history = await layer.groupHistory("kept-fifty", { after: first?.__offset__ as HistoryOffset });
        expect(history.complete, "nothing after that offset was trimmed").toBe(true);
        const numbers = history.messages.map((entry) => entry.message.n as number);
        expect(
          numbers,
          countingProblems(
            numbers.map((n) => n - 1),
            50,
          ),
        ).toEqual(fifty.map((message) => message.n));
        expect(history.messages.map((entry) => entry.offset)).toEqual(offsetsOf(fifty));
        expect(history.messages.map((entry) => entry.message)).toEqual(fifty);
        const middle = fifty[19]?.__offset__ as HistoryOffset;
        const rest = await layer.groupHistory("kept-fifty", { after: middle });
        expect(rest.complete).toBe(true);
        expect(rest.messages.map((entry) => entry.message.n)).toEqual(fifty.slice(20).map((message) => message.n));
        const last = await layer.groupHistory("kept-fifty", { after: fifty[49]?.__offset__ as HistoryOffset });
        expect(last, "nothing after the newest offset").toEqual({ messages: [], complete: true });
      },
    );

    it(
      "trims to maxLength: an offset older than what is kept gives complete=false and the kept messages",
      ctx.timeout(),
      async ({ skip }) => {
        if (!ctx.supports("history")) skip();
        const layer = historyOf(await ctx.layer(options));
        const member = await layer.newChannel();
        await layer.groupAdd("short-trimmed", member);
        const sent = await sendAndReceive(layer, "short-trimmed", member, 30, ctx.arrivalMs);
        const old = await layer.groupHistory("short-trimmed", { after: sent[4]?.__offset__ as HistoryOffset });
        expect(old.complete, "messages 5..19 were trimmed").toBe(false);
        expect(old.messages.map((entry) => entry.message.n)).toEqual(sent.slice(20).map((message) => message.n));
        const recent = await layer.groupHistory("short-trimmed", { after: sent[24]?.__offset__ as HistoryOffset });
        expect(recent.complete).toBe(true);
        expect(recent.messages.map((entry) => entry.message.n)).toEqual([25, 26, 27, 28, 29]);
        const edge = await layer.groupHistory("short-trimmed", { after: sent[19]?.__offset__ as HistoryOffset });
        expect(edge.complete, "the oldest kept message follows that offset directly").toBe(true);
        expect(edge.messages).toHaveLength(10);
      },
    );

    it(
      "trims by maxAgeMs: messages older than it are gone, and asking from before them gives complete=false",
      ctx.timeout(),
      async ({ skip }) => {
        if (!ctx.supports("history")) skip();
        const layer = historyOf(await ctx.layer(options));
        const member = await layer.newChannel();
        await layer.groupAdd("aged-group", member);
        const early = await sendAndReceive(layer, "aged-group", member, 3, ctx.arrivalMs);
        await sleep(400 * scale * 1.5);
        const late = await sendAndReceive(layer, "aged-group", member, 2, ctx.arrivalMs, 3);
        const history = await layer.groupHistory("aged-group", { after: early[0]?.__offset__ as HistoryOffset });
        expect(history.complete, "messages 1 and 2 aged out").toBe(false);
        expect(history.messages.map((entry) => entry.message.n)).toEqual([3, 4]);
        const since = await layer.groupHistory("aged-group", { after: late[0]?.__offset__ as HistoryOffset });
        expect(since.complete).toBe(true);
        expect(since.messages.map((entry) => entry.message.n)).toEqual([4]);
      },
    );

    it(
      "leaves groups without a rule alone: no stamps, and groupHistory rejects with UNSUPPORTED",
      ctx.timeout(),
      async ({ skip }) => {
        if (!ctx.supports("history")) skip();
        const layer = historyOf(await ctx.layer(options));
        const member = await layer.newChannel();
        await layer.groupAdd("plain-group", member);
        await layer.groupSend("plain-group", { type: "plain", n: 1 });
        expect(await receiveWithin(layer, member, ctx.arrivalMs)).toEqual({ type: "plain", n: 1 });
        expect(layer.groupHistoryRule("plain-group")).toBeUndefined();
        expect(layer.groupHistoryRule("kept-x")).toEqual({ maxLength: 100 });
        expect(await rejectionOf(layer.groupHistory("plain-group", { after: 0 }))).toMatchObject({
          code: "UNSUPPORTED",
        });
        const unconfigured = historyOf(await ctx.layer({ capacity: 200 }));
        const other = await unconfigured.newChannel();
        await unconfigured.groupAdd("kept-but-not-here", other);
        await unconfigured.groupSend("kept-but-not-here", { type: "plain", n: 2 });
        expect(await receiveWithin(unconfigured, other, ctx.arrivalMs), "no groupHistory option, no history").toEqual({
          type: "plain",
          n: 2,
        });
      },
    );

    it("rejects bad offsets and group names before any I/O", ctx.timeout(), async ({ skip }) => {
      if (!ctx.supports("history")) skip();
      const layer = historyOf(await ctx.layer(options));
      const cases: [string, () => Promise<unknown>, string][] = [
        ["no options", () => layer.groupHistory("kept-x", undefined as never), "INVALID_ARGUMENT"],
        ["an object offset", () => layer.groupHistory("kept-x", { after: {} as never }), "INVALID_ARGUMENT"],
        ["a negative offset", () => layer.groupHistory("kept-x", { after: -1 }), "INVALID_ARGUMENT"],
        ["a NaN offset", () => layer.groupHistory("kept-x", { after: Number.NaN }), "INVALID_ARGUMENT"],
        ["an empty offset", () => layer.groupHistory("kept-x", { after: "" }), "INVALID_ARGUMENT"],
        ["a bad group", () => layer.groupHistory("kept x", { after: 1 }), "INVALID_NAME"],
      ];
      for (const [what, call, code] of cases) {
        const outcome = await settleBeforeIo(call());
        expect(outcome.settled, `${what} should be refused before any I/O`).toBe(true);
        expect(outcome.error, `${what}: ${describeValue(outcome.error)}`).toMatchObject({ code });
      }
    });

    it("keeps presence diffs out of a group's history", ctx.timeout(), async ({ skip }) => {
      if (!ctx.supports("history") || !ctx.supports("presence")) skip();
      const layer = historyOf(await ctx.layer(options));
      const member = await layer.newChannel();
      await layer.groupAdd("kept-presence", member);
      const [first] = await sendAndReceive(layer, "kept-presence", member, 1, ctx.arrivalMs);
      await (layer as unknown as PresenceChannelLayer).presenceTrack("kept-presence", member, "nina");
      const diff = await receiveWithin(layer, member, ctx.arrivalMs);
      expect(diff.type).toBe("presence.diff");
      expect(diff, "a diff has no offset").not.toHaveProperty("__offset__");
      const history = await layer.groupHistory("kept-presence", { after: first?.__offset__ as HistoryOffset });
      expect(history).toEqual({ messages: [], complete: true });
    });
  });

  describe.runIf(ctx.options.crossInstance)("history across instances", () => {
    it(
      "numbers the groupSends of two instances into one history, each sender's in its order",
      ctx.timeout(6),
      async ({ skip }) => {
        if (!ctx.supports("history")) skip();
        const [a, b] = (await ctx.layerPair(options)).map(historyOf) as [HistoryChannelLayer, HistoryChannelLayer];
        const member = await b.newChannel();
        await b.groupAdd("kept-shared", member);
        await a.groupSend("kept-shared", { type: "history.message", sender: -1 });
        const first = await receiveWithin(b, member, ctx.arrivalMs, { sender: -1 });
        await Promise.all(
          [a, b].map(async (layer, sender) => {
            for (let n = 0; n < 20; n++) await layer.groupSend("kept-shared", { type: "history.message", sender, n });
          }),
        );
        const received: Record<string, unknown>[] = [];
        for (let i = 0; i < 40; i++) received.push(await receiveWithin(b, member, ctx.arrivalMs));
        await expectNothing(b, member, ctx.silenceMs, "40 were sent");
        for (const layer of [a, b]) {
          const history = await layer.groupHistory("kept-shared", { after: first.__offset__ as HistoryOffset });
          expect(history.complete).toBe(true);
          expect(new Set(history.messages.map((entry) => entry.offset)).size, "40 different offsets").toBe(40);
          for (const sender of [0, 1]) {
            const ns = history.messages
              .filter((entry) => entry.message.sender === sender)
              .map((entry) => entry.message.n);
            expect(ns, `sender ${sender}'s messages in its send order`).toEqual(
              Array.from({ length: 20 }, (_, n) => n),
            );
          }
          expect(
            [...history.messages.map((entry) => entry.offset)].sort(),
            "the member received exactly the messages the history holds",
          ).toEqual([...offsetsOf(received)].sort());
        }
      },
    );
  });
}
