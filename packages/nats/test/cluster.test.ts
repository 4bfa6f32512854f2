import { NatsChannelLayer } from "@channel-layers/nats";
import { startNatsCluster } from "@channel-layers/testing";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, describe, expect, it, onTestFinished, vi } from "vitest";
import { SubjectMap } from "../src/subjects.js";
import { randomPrefix } from "./nats-server.js";

// Three throwaway nats-servers joined by routes into one JetStream cluster; one gets SIGKILL.
const cluster = await startNatsCluster();
afterAll(() => cluster?.stop());

const CHANNEL = "cluster-jobs";

describe.runIf(cluster)("a three-node NATS cluster, streams at 3 replicas", () => {
  const live = cluster as NonNullable<typeof cluster>;

  /** A layer on the cluster that connects to node `first` and fails over to the others. */
  function layerOn(prefix: string, first: number): NatsChannelLayer {
    const servers = [live.urls[first] as string, ...live.urls.filter((_, i) => i !== first)];
    const layer = new NatsChannelLayer({
      servers,
      prefix,
      replicas: 3,
      requestTimeoutMs: 2000,
      ackWaitMs: 3000,
      capacity: 100_000,
      connectOptions: { noRandomize: true },
    });
    onTestFinished(() => layer.close());
    return layer;
  }

  it("loses nothing on a durable channel when the node leading its consumer is killed under load", {
    timeout: 180_000,
  }, async () => {
    const prefix = randomPrefix("cluster");
    // Make the channel's stream and consumer, then find the node that leads the consumer.
    const setup = layerOn(prefix, 0);
    await setup.send(CHANNEL, { type: "setup" });
    expect(await setup.receive(CHANNEL)).toEqual({ type: "setup" });
    await setup.close();
    const admin = await connect({ servers: [...live.urls] });
    onTestFinished(() => admin.close());
    const jsm = await jetstreamManager(admin);
    const stream = new SubjectMap(prefix).channelStream(CHANNEL);
    expect((await jsm.streams.info(stream)).config.num_replicas).toBe(3);
    const leaderName = (await jsm.consumers.info(stream, "receivers")).cluster?.leader ?? "";
    const doomed = live.urls.findIndex((_, i) => leaderName.endsWith(`-n${i + 1}`));
    expect(doomed, `consumer leader ${leaderName}`).toBeGreaterThanOrEqual(0);
    const survivor = (doomed + 1) % live.urls.length;

    // The sender is connected to the node that dies (it must reconnect); the receiver to another
    // (its pull requests die with the consumer's leader, and nothing tells it so).
    const sender = layerOn(prefix, doomed);
    const receiver = layerOn(prefix, survivor);
    const resolved = new Set<number>();
    const arrived: number[] = [];
    let rejected = 0;
    let sending = true;
    let receiving = true;
    const sendLoop = (async () => {
      for (let n = 0; sending; n++) {
        try {
          await sender.send(CHANNEL, { type: "n", n });
          resolved.add(n);
        } catch (error) {
          // The only way a send may fail here: no answer while the cluster elects new leaders.
          expect(error).toMatchObject({ code: "BACKEND_UNAVAILABLE" });
          rejected++;
        }
      }
    })();
    const receiveLoop = (async () => {
      while (receiving) {
        try {
          const message = await receiver.receive(CHANNEL, { signal: AbortSignal.timeout(500) });
          arrived.push(message.n as number);
        } catch (error) {
          if ((error as Error).name !== "AbortError") expect(error).toMatchObject({ code: "BACKEND_UNAVAILABLE" });
        }
      }
    })();
    const flowingPast = (n: number) => expect(Math.max(-1, ...arrived)).toBeGreaterThan(n);

    await vi.waitFor(() => flowingPast(50), { timeout: 30_000 });
    await live.nodes[doomed]?.kill();
    const atKill = Math.max(-1, ...resolved);
    await vi.waitFor(() => flowingPast(atKill + 50), { timeout: 60_000, interval: 200 });
    sending = false;
    await sendLoop;
    // Messages delivered by the dead leader and never acknowledged come back after ackWaitMs.
    const lost = () => {
      const seen = new Set(arrived);
      return [...resolved].filter((n) => !seen.has(n));
    };
    await vi.waitFor(() => expect(lost()).toEqual([]), { timeout: 60_000, interval: 250 });
    receiving = false;
    await receiveLoop;
    const duplicates = arrived.length - new Set(arrived).size;
    console.info(
      `NATS cluster, consumer leader ${leaderName} killed under load: ${JSON.stringify({
        resolved: resolved.size,
        rejected,
        lost: lost().length,
        duplicates,
        sender: sender.stats(),
        receiver: receiver.stats(),
      })}`,
    );
    expect(lost()).toEqual([]);
  });
});
