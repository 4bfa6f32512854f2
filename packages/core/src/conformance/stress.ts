import { describe, expect, it } from "vitest";
import type { ChannelLayer } from "../channel-layer.js";
import { countingProblems, handled, receiveOrNothing, receiveWithin, type SuiteContext } from "./context.js";

const CHANNELS = 100;
const GROUPS = 20;
const DIRECT_PER_CHANNEL = 50;
const SENDS_PER_GROUP = 50;

/** Sends `count` messages made by `make`, in order, one after another. */
async function sendInOrder(count: number, send: (n: number) => Promise<void>): Promise<void> {
  for (let n = 0; n < count; n++) await send(n);
}

export function stressTests(ctx: SuiteContext): void {
  describe("stress", () => {
    it(
      `delivers ${CHANNELS * DIRECT_PER_CHANNEL + (CHANNELS / GROUPS) * GROUPS * SENDS_PER_GROUP} messages over ${CHANNELS} channels and ${GROUPS} groups exactly once, in order`,
      ctx.timeout(24),
      async () => {
        const withGroups = ctx.supports("groups");
        const options = { capacity: 10_000 };
        const [sender, receiver]: [ChannelLayer, ChannelLayer] = ctx.options.crossInstance
          ? await ctx.layerPair(options)
          : await ctx.layer(options).then((layer) => [layer, layer]);
        const channels = await Promise.all(Array.from({ length: CHANNELS }, () => receiver.newChannel()));
        if (withGroups) {
          await Promise.all(channels.map((channel, i) => receiver.groupAdd(`stress-${i % GROUPS}`, channel)));
        }
        const perChannel = DIRECT_PER_CHANNEL + (withGroups ? SENDS_PER_GROUP : 0);
        const received = channels.map(() => [] as string[]);
        const receiving = handled(
          channels.map(async (channel, i) => {
            const list = received[i] as string[];
            while (list.length < perChannel) {
              const message = await receiveWithin<{ id: string }>(receiver, channel, ctx.arrivalMs * 4, {
                after: list.at(-1) ?? "nothing yet",
                receivedSoFar: list.length,
                of: perChannel,
              });
              list.push(message.id);
            }
          }),
        );
        await Promise.all([
          ...channels.map((channel, i) =>
            sendInOrder(DIRECT_PER_CHANNEL, (n) => sender.send(channel, { type: "stress.direct", id: `d${i}:${n}` })),
          ),
          ...(withGroups
            ? Array.from({ length: GROUPS }, (_, g) =>
                sendInOrder(SENDS_PER_GROUP, (n) =>
                  sender.groupSend(`stress-${g}`, { type: "stress.group", id: `g${g}:${n}` }),
                ),
              )
            : []),
        ]);
        await Promise.all(receiving);
        channels.forEach((channel, i) => {
          const list = received[i] as string[];
          const direct = list.filter((id) => id.startsWith("d")).map((id) => Number(id.split(":")[1]));
          expect(direct, `sends to ${channel}, in order: ${countingProblems(direct, DIRECT_PER_CHANNEL)}`).toEqual(
            Array.from({ length: DIRECT_PER_CHANNEL }, (_, n) => n),
          );
          if (withGroups) {
            const group = list.filter((id) => id.startsWith("g")).map((id) => Number(id.split(":")[1]));
            expect(
              group,
              `groupSends to stress-${i % GROUPS} as ${channel} received them: ${countingProblems(group, SENDS_PER_GROUP)}`,
            ).toEqual(Array.from({ length: SENDS_PER_GROUP }, (_, n) => n));
          }
        });
        const extra = await Promise.all(
          channels.slice(0, 10).map((channel) => receiveOrNothing(receiver, channel, 50)),
        );
        expect(extra.filter(Boolean), "nothing should arrive beyond what was sent").toEqual([]);
      },
    );
  });
}
