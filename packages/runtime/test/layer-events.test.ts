import { randomBytes } from "node:crypto";
import { ChannelLayerError, type Message } from "@channel-layers/core";
import { RedisChannelLayer } from "@channel-layers/redis";
import { startService, waitFor } from "@channel-layers/testing";
import { describe, expect, it } from "vitest";
import { AsyncConsumer, ConsumerError, runWorker, WebsocketConsumer, type WebsocketData } from "../src/index.js";
import { LiveWebsocketCommunicator } from "../src/testing/index.js";
import { layersClosedAfterEach } from "./fixtures/layers.js";
import { cleanupsAfterEach, RecordingLogger, serveForTest, until, wsUrl } from "./fixtures/servers.js";

const cleanup = cleanupsAfterEach();
const newLayer = layersClosedAfterEach();

/** A chat room member: echoes client frames, forwards room messages to its client. */
class Member extends WebsocketConsumer {
  static override groups = ["room"];
  static disconnects: number[] = [];
  override async receive(data: WebsocketData) {
    await this.send(`echo ${String(data)}`);
  }
  async room_message(message: Message) {
    await this.send(`room ${String(message.text)}`);
  }
  override async disconnect(code: number) {
    Member.disconnects.push(code);
  }
}

/** Channels' behaviour, chosen explicitly. */
class TrustingMember extends Member {
  static override acceptsTransportEventsFromLayer = true;
}

async function room(consumer: typeof Member) {
  const layer = newLayer();
  const logger = new RecordingLogger();
  const server = await serveForTest(consumer, { channelLayer: layer, logger }, cleanup);
  const client = new LiveWebsocketCommunicator(wsUrl(server, "/"));
  cleanup(() => client.disconnect());
  await client.connect();
  await until(() => layer.stats().memberships === 1, "the member to join the room");
  return { layer, logger, server, client };
}

describe("transport events from the layer", () => {
  it("a groupSend of websocket.disconnect no longer closes the room's sockets", async () => {
    Member.disconnects = [];
    const { layer, logger, server, client } = await room(Member);
    for (let n = 0; n < 3; n++) await layer.groupSend("room", { type: "websocket.disconnect", code: 1000 });
    await until(() => server.stats().drops["transport-event-from-layer"] === 3, "the three messages to be refused");
    await layer.groupSend("room", { type: "room.message", text: "still here" });
    expect(await client.receiveFrom()).toBe("room still here");
    expect(Member.disconnects).toEqual([]);
    const warnings = logger.lines.filter((line) => line.level === "warn");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.message).toContain("acceptsTransportEventsFromLayer");
  });

  it("websocket.receive from the layer no longer poses as client input", async () => {
    const { layer, server, client } = await room(Member);
    await layer.groupSend("room", { type: "websocket.receive", text: "spoofed" });
    await layer.groupSend("room", { type: "http.request", body: "" });
    await until(() => server.stats().drops["transport-event-from-layer"] === 2, "both messages to be refused");
    expect(await client.receiveNothing()).toBe(true);
    await client.sendTo("real");
    expect(await client.receiveFrom()).toBe("echo real");
  });

  it("a consumer that opts in gets them, as in Channels", async () => {
    Member.disconnects = [];
    const { layer, client } = await room(TrustingMember);
    await layer.groupSend("room", { type: "websocket.receive", text: "from the layer" });
    expect(await client.receiveFrom()).toBe("echo from the layer");
    await layer.groupSend("room", { type: "websocket.disconnect", code: 4000 });
    await until(() => Member.disconnects.length === 1, "the disconnect handler");
    expect(Member.disconnects).toEqual([4000]);
  });

  it("a worker's consumer refuses them too: its messages all come from the layer", async () => {
    const layer = newLayer();
    const handled: string[] = [];
    class Jobs extends AsyncConsumer {
      async websocket_receive(_message: Message) {
        handled.push("websocket.receive");
      }
      async job_run(message: Message) {
        handled.push(`job ${String(message.id)}`);
      }
    }
    const errors: unknown[] = [];
    const worker = await runWorker(
      { jobs: Jobs },
      { channelLayer: layer, shutdownSignals: [], onError: (error) => errors.push(error) },
    );
    cleanup(() => worker.stop());
    await layer.send("jobs", { type: "websocket.receive", text: "spoofed" });
    await layer.send("jobs", { type: "job.run", id: 1 });
    await until(() => handled.length === 1, "the job");
    expect(handled).toEqual(["job 1"]);
    expect(errors).toEqual([]);
  });
});

describe("teardown after a backend failure", () => {
  it("a failed discardChannel keeps the consumer's original backend error as the cause", async ({ skip }) => {
    const redis = await startService("redis", { throwaway: true });
    if (redis === undefined) return skip();
    cleanup(() => redis.stop());
    const layer = new RedisChannelLayer({ hosts: [redis.url], prefix: `discard-${randomBytes(4).toString("hex")}:` });
    let killed = false;
    // close() hangs while the layer is still reconnecting after an outage: Redis comes back and
    // the layer delivers again (its blocking receive loop is up) before it is closed.
    cleanup(async () => {
      if (killed) {
        await redis.restart();
        await waitFor("the layer to deliver again after the restart", async () => {
          const probe = await layer.newChannel();
          try {
            await layer.send(probe, { type: "probe" });
            await layer.receive(probe, { signal: AbortSignal.timeout(1000) });
            return true;
          } catch {
            return false;
          }
        });
      }
      await layer.close();
    });
    class Sender extends WebsocketConsumer {
      override async receive(data: WebsocketData) {
        await this.groupSend("room", { type: "room.message", text: String(data) });
      }
    }
    const errors: unknown[] = [];
    const server = await serveForTest(
      Sender,
      { channelLayer: layer, onError: (error) => errors.push(error), pingIntervalMs: 0 },
      cleanup,
    );
    const client = new LiveWebsocketCommunicator(wsUrl(server, "/"));
    cleanup(() => client.disconnect());
    await client.connect();
    await redis.kill();
    killed = true;
    await client.sendTo("while Redis is down");
    expect((await client.waitForClose(20_000)).code).toBe(1011);
    await until(() => errors.length === 1, "the error report");
    const error = errors[0] as ConsumerError;
    expect(error).toBeInstanceOf(ConsumerError);
    expect(error.code).toBe("DISCARD_FAILED");
    // The cause is what failed first, not the discard that failed after it.
    expect(error.cause).toBeInstanceOf(ChannelLayerError);
    expect((error.cause as ChannelLayerError).code).toBe("BACKEND_UNAVAILABLE");
    expect((error.cause as Error).message).not.toContain("discardChannel");
    expect(error.message).toContain("discardChannel");
  });
});
