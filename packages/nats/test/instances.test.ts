import { ChannelFull } from "@channel-layers/core";
import { receiveOrNothing, receiveWithin } from "@channel-layers/core/conformance";
import { NatsChannelLayer } from "@channel-layers/nats";
import { connect } from "@nats-io/transport-node";
import { afterAll, describe, expect, it, onTestFinished, vi } from "vitest";
import { SubjectMap } from "../src/subjects.js";
import { NatsTestServer, randomPrefix } from "./nats-server.js";

const server = await NatsTestServer.start();
afterAll(() => server?.stop());

describe.runIf(server)("several instances on one prefix", () => {
  const live = server as NatsTestServer;

  /** `count` (up to 4) layers on one fresh prefix, closed when the test ends. */
  function instances(count: number, options: ConstructorParameters<typeof NatsChannelLayer>[0] = {}) {
    const prefix = randomPrefix();
    const layers = Array.from({ length: count }, () => live.layer({ ...options, prefix }));
    onTestFinished(() => Promise.all(layers.map((layer) => layer.close())).then(() => undefined));
    return layers as [NatsChannelLayer, NatsChannelLayer, NatsChannelLayer, NatsChannelLayer];
  }

  it("tells a sender on another instance ChannelFull at a process-local channel's capacity, exactly", async () => {
    const [owner, sender] = instances(2, { capacity: 3 });
    const channel = await owner.newChannel();
    const received: unknown[] = [];
    for (let round = 0; round < 3; round++) {
      let accepted = 0;
      for (;;) {
        const error = await sender.send(channel, { type: "fill", id: `${round}:${accepted}` }).catch((e: unknown) => e);
        if (error === undefined) accepted++;
        else {
          expect(error).toBeInstanceOf(ChannelFull);
          break;
        }
        expect(accepted).toBeLessThanOrEqual(3);
      }
      // The first round fills it; each later round finds the one slot a receive freed.
      expect(accepted).toBe(round === 0 ? 3 : 1);
      received.push((await receiveWithin(owner, channel, 5000)).id);
    }
    for (let n = 0; n < 2; n++) received.push((await receiveWithin(owner, channel, 5000)).id);
    expect(received).toEqual(["0:0", "0:1", "0:2", "1:0", "2:0"]);
    expect(await receiveOrNothing(owner, channel, 200)).toBeUndefined();
  });

  it("loses nothing a send resolved for, with two senders racing on one process-local channel", async () => {
    const [owner, first, second] = instances(3, { capacity: 50 });
    const channel = await owner.newChannel();
    const accepted = new Set<string>();
    const received = new Set<string>();
    let sending = true;
    const draining = (async () => {
      while (sending || received.size < accepted.size) {
        const message = await receiveOrNothing(owner, channel, 500);
        if (message) received.add(message.id as string);
        else if (!sending) break;
      }
    })();
    await Promise.all(
      [first, second].map(async (sender, s) => {
        for (let n = 0; n < 1000; n++) {
          const id = `${s}:${n}`;
          await sender.send(channel, { type: "race", id }).then(
            () => accepted.add(id),
            (error: unknown) => expect(error).toBeInstanceOf(ChannelFull),
          );
        }
      }),
    );
    sending = false;
    await draining;
    expect([...accepted].filter((id) => !received.has(id))).toEqual([]);
    expect(received.size).toBe(accepted.size);
    for (const sender of [first, second]) expect(sender.stats()).toMatchObject({ lostSends: 0, unconfirmedSends: 0 });
  });

  it("drops sends to a closed instance's channel and counts them", async () => {
    const [owner, sender] = instances(2);
    const channel = await owner.newChannel();
    await sender.send(channel, { type: "before" });
    expect(await receiveWithin(owner, channel, 5000)).toEqual({ type: "before" });
    await owner.close();
    await sender.send(channel, { type: "after" });
    await sender.send(channel, { type: "after" });
    // A send may resolve ahead of its answer, so the count comes with the (no-responders) answer.
    await vi.waitFor(() => expect(sender.stats().undeliverable).toBe(2));
  });

  it("reaches a named-channel member from any instance, and forgets it from any instance", async () => {
    const [a, b] = instances(2);
    await a.groupAdd("workers", "jobs.named");
    await b.groupSend("workers", { type: "job", n: 1 });
    expect(await receiveWithin(a, "jobs.named", 5000)).toEqual({ type: "job", n: 1 });
    await b.groupDiscard("workers", "jobs.named");
    await a.groupSend("workers", { type: "job", n: 2 });
    expect(await receiveOrNothing(b, "jobs.named", 300)).toBeUndefined();
  });

  it("publishes a groupSend once, however many members and instances", async () => {
    const [sender, ...receivers] = instances(4);
    const members: [NatsChannelLayer, string][] = [];
    for (const receiver of receivers) {
      for (let m = 0; m < 5; m++) members.push([receiver, await receiver.newChannel()]);
    }
    for (const [, channel] of members) await sender.groupAdd("once", channel);
    const tap = await live.connection();
    let published = 0;
    const subscription = tap.subscribe(new SubjectMap(sender.prefix).group("once"), {
      callback: () => {
        published++;
      },
    });
    await tap.flush();
    try {
      for (let n = 0; n < 10; n++) await sender.groupSend("once", { type: "once", n });
      for (const [receiver, channel] of members) {
        for (let n = 0; n < 10; n++) expect(await receiveWithin(receiver, channel, 5000)).toEqual({ type: "once", n });
      }
      await tap.flush();
      expect(published).toBe(10);
    } finally {
      subscription.unsubscribe();
    }
  });

  it("lapses memberships after groupExpiry, named ones and ones added from another instance", async () => {
    const [owner, other] = instances(2, { groupExpiry: 0.5 });
    const local = await owner.newChannel();
    await other.groupAdd("lapsing", local);
    await other.groupAdd("lapsing", "lapsing-named");
    await owner.groupSend("lapsing", { type: "before" });
    expect(await receiveWithin(owner, local, 5000)).toEqual({ type: "before" });
    expect(await receiveWithin(other, "lapsing-named", 5000)).toEqual({ type: "before" });
    // Time passing is the behaviour under test.
    await new Promise((resolve) => setTimeout(resolve, 700));
    await other.groupSend("lapsing", { type: "after" });
    expect(await receiveOrNothing(owner, local, 300)).toBeUndefined();
    expect(await receiveOrNothing(other, "lapsing-named", 300)).toBeUndefined();
  });

  it("keeps every named member that instances add to one group at the same moment", async () => {
    const layers = instances(4);
    const channels = Array.from({ length: 20 }, (_, n) => `concurrent-${n}`);
    await Promise.all(channels.map((channel, n) => layers[n % 4]?.groupAdd("crowd", channel)));
    await layers[0].groupSend("crowd", { type: "all" });
    for (const channel of channels) expect(await receiveWithin(layers[1], channel, 5000)).toEqual({ type: "all" });
  });

  it("flushes the buffers and memberships of every instance on the prefix", async () => {
    const [a, b] = instances(2);
    const onB = await b.newChannel();
    await a.send(onB, { type: "buffered" });
    await a.groupAdd("flushed", onB);
    await a.flush();
    // The flush notice and the next publish travel in order on a's connection.
    await a.send(onB, { type: "after" });
    expect(await receiveWithin(b, onB, 5000)).toEqual({ type: "after" });
    await a.groupSend("flushed", { type: "nobody" });
    expect(await receiveOrNothing(b, onB, 300)).toBeUndefined();
    expect(b.stats().memberships).toBe(0);
  });

  it("discards a channel on its owner when another instance asks", async () => {
    const [owner, other] = instances(2);
    const channel = await owner.newChannel();
    await owner.groupAdd("left", channel);
    const waiting = owner.receive(channel).catch((error: unknown) => error);
    await other.discardChannel(channel);
    expect(await waiting).toMatchObject({ code: "CHANNEL_DISCARDED" });
    expect(owner.stats().memberships).toBe(0);
    expect(owner.stats().groups).toBe(0);
  });

  it("leaves nothing behind after many consumers come and go", async () => {
    const [layer, sender] = instances(2);
    for (let round = 0; round < 5; round++) {
      await Promise.all(
        Array.from({ length: 40 }, async () => {
          const channel = await layer.newChannel();
          await sender.groupAdd("lobby", channel);
          await layer.groupAdd(`private-${round}`, channel);
          await sender.send(channel, { type: "hello" });
          await receiveWithin(layer, channel, 5000);
          await layer.discardChannel(channel);
        }),
      );
    }
    expect(layer.stats()).toMatchObject({ localChannels: 0, groups: 0, memberships: 0 });
  });
});

describe.runIf(server)("connection ownership", () => {
  const live = server as NatsTestServer;

  it("closes a connection it made, and only unsubscribes from one it was given", async () => {
    const given = await connect({ servers: live.url });
    try {
      const prefix = randomPrefix();
      const borrowing = new NatsChannelLayer({ connection: given, prefix });
      const owning = live.layer({ prefix });
      const channel = await borrowing.newChannel();
      await owning.send(channel, { type: "via.given" });
      expect(await receiveWithin(borrowing, channel, 5000)).toEqual({ type: "via.given" });
      await borrowing.close();
      expect(given.isClosed()).toBe(false);
      expect(given.stats().inMsgs).toBeGreaterThan(0);
      await owning.close();
      await given.flush();
    } finally {
      await given.close();
    }
  });

  it("rejects options naming both servers and a connection", async () => {
    const given = await connect({ servers: live.url });
    try {
      expect(() => new NatsChannelLayer({ connection: given, servers: live.url })).toThrow(
        expect.objectContaining({ code: "INVALID_OPTIONS" }),
      );
      expect(() => new NatsChannelLayer({ prefix: "bad prefix" })).toThrow(
        expect.objectContaining({ code: "INVALID_OPTIONS" }),
      );
    } finally {
      await given.close();
    }
  });
});
