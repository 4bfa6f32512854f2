import { beforeAll, describe } from "vitest";
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
import { messageTests } from "./messages.js";
import { nameTests } from "./names.js";
import { sendReceiveTests } from "./send-receive.js";
import { stressTests } from "./stress.js";

export type {
  ChannelLayerFactory,
  ConformanceLayerOptions,
  ConformanceOptions,
  SuiteContext,
} from "./context.js";
export { receiveOrNothing, receiveWithin, rejectionOf, settleBeforeIo } from "./context.js";

/**
 * The ChannelLayer conformance suite: call it from a vitest test file with a factory that makes a
 * fresh, isolated layer on each call. Parts a layer's `extensions` leave out are skipped.
 */
export function channelLayerConformance(options: ConformanceOptions): void {
  let extensions: readonly string[] = [];
  const ctx = createSuiteContext(options, () => extensions);
  describe(`ChannelLayer conformance: ${options.name}`, () => {
    beforeAll(async () => {
      const probe = await options.factory({});
      extensions = probe.extensions;
      await probe.close();
    });
    sendReceiveTests(ctx);
    nameTests(ctx);
    messageTests(ctx);
    capacityTests(ctx);
    expiryTests(ctx);
    groupTests(ctx);
    abortTests(ctx);
    discardTests(ctx);
    fairnessTests(ctx);
    flushTests(ctx);
    closeTests(ctx);
    crossInstanceTests(ctx);
    stressTests(ctx);
  });
}
