import { receiveOrNothing, receiveWithin } from "@channel-layers/core/conformance";
import { afterAll, describe, expect, it, vi } from "vitest";
import { NatsTestServer, randomPrefix } from "./nats-server.js";

// A server of our own: these tests kill it (-9) and start it again on its port and data directory.
const server = await NatsTestServer.start({ throwaway: true });
afterAll(() => server?.stop());

describe.runIf(server)("across a server crash and restart", () => {
  const live = server as NatsTestServer;
  const options = { requestTimeoutMs: 2000, ackWaitMs: 2000 };

  it("keeps durable channels' messages, memberships and waiting receives; reconnects on its own", async () => {
    const prefix = randomPrefix();
    const [sender, receiver] = [live.layer({ ...options, prefix }), live.layer({ ...options, prefix })];
    try {
      const local = await receiver.newChannel();
      await sender.groupAdd("survivors", local);
      await sender.groupAdd("survivors", "durable-member");
      for (let n = 0; n < 20; n++) await sender.send("durable-jobs", { type: "job", n });
      await sender.groupSend("survivors", { type: "before" });
      expect(await receiveWithin(receiver, local, 5000)).toEqual({ type: "before" });
      // A receive already waiting on an empty durable channel when the server goes down.
      const waiting = receiveWithin(receiver, "durable-empty", 20_000);

      await live.service.kill();
      await live.service.restart();
      await vi.waitFor(() => expect(sender.stats().reconnects + receiver.stats().reconnects).toBe(2), {
        timeout: 10_000,
      });

      for (let n = 0; n < 20; n++)
        expect(await receiveWithin(receiver, "durable-jobs", 5000)).toEqual({ type: "job", n });
      expect(await receiveOrNothing(receiver, "durable-jobs", 300)).toBeUndefined();
      expect(await receiveWithin(receiver, "durable-member", 5000)).toEqual({ type: "before" });
      await sender.send("durable-empty", { type: "after.restart" });
      expect(await waiting).toEqual({ type: "after.restart" });
      // Both memberships outlived the crash: the named one in JetStream, the local one in its owner.
      await vi.waitFor(
        () => sender.groupSend("survivors", { type: "after" }).then(() => receiveWithin(receiver, local, 200)),
        {
          timeout: 10_000,
        },
      );
      expect(await receiveWithin(receiver, "durable-member", 5000)).toEqual({ type: "after" });
    } finally {
      await Promise.all([sender.close(), receiver.close()]);
    }
  });
});
