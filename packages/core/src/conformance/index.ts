import { beforeAll, describe } from "vitest";
import type { ChannelLayer } from "../channel-layer.js";
import { abortTests } from "./abort.js";
import { capacityTests } from "./capacity.js";
import { closeTests } from "./close.js";
import { type ConformanceOptions, createSuiteContext } from "./context.js";
import { crossInstanceTests } from "./cross-instance.js";
import { discardTests } from "./discard.js";
import { expiryTests } from "./expiry.js";
import { fairnessTests } from "./fairness.js";
import { flushTests } from "./flush.js";
import { groupTests } from "./groups.js";
import { historyTests } from "./history.js";
import { messageTests } from "./messages.js";
import { nameTests } from "./names.js";
import { openTests } from "./open.js";
import { orderingTests } from "./ordering.js";
import { presenceTests } from "./presence.js";
import { presenceExpiryTests } from "./presence-expiry.js";
import { sendReceiveTests } from "./send-receive.js";
import { stressTests } from "./stress.js";
import { wireTests } from "./wire.js";

export type { PresenceTestControl } from "../presence-tracker.js";
export type {
  ChannelLayerFactory,
  ConformanceLayerOptions,
  ConformanceOptions,
  SuiteContext,
} from "./context.js";
export {
  describeValue,
  expectNothing,
  expectReceive,
  receiveOrNothing,
  receiveWithin,
  rejectionOf,
  settleBeforeIo,
} from "./context.js";

/**
 * The ChannelLayer conformance suite: call it from a vitest test file with a factory that makes a
 * fresh, isolated layer on each call. Parts a layer's `extensions` leave out are skipped.
 */
export function channelLayerConformance<L extends ChannelLayer>(options: ConformanceOptions<L>): void {
  let extensions: readonly string[] = [];
  // The suite hands the factory only layers it made, so it may treat them as plain ChannelLayers.
  const general = options as unknown as ConformanceOptions<ChannelLayer>;
  const ctx = createSuiteContext(general, () => extensions);
  describe(`ChannelLayer conformance: ${options.name}`, () => {
    beforeAll(async () => {
      const probe = await general.factory({});
      extensions = probe.extensions;
      await probe.close();
      await general.dispose?.(probe);
    });
    openTests(ctx);
    sendReceiveTests(ctx);
    nameTests(ctx);
    messageTests(ctx);
    wireTests(ctx);
    capacityTests(ctx);
    expiryTests(ctx);
    groupTests(ctx);
    abortTests(ctx);
    discardTests(ctx);
    fairnessTests(ctx);
    orderingTests(ctx);
    flushTests(ctx);
    closeTests(ctx);
    crossInstanceTests(ctx);
    presenceTests(ctx);
    presenceExpiryTests(ctx);
    historyTests(ctx);
    stressTests(ctx);
  });
}
