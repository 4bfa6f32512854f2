import { describe, expect, it } from "vitest";
import { JsonWebsocketConsumer } from "../src/index.js";
import { WebsocketCommunicator } from "../src/testing/index.js";
import { layersClosedAfterEach } from "./fixtures/layers.js";

const newLayer = layersClosedAfterEach();

/** Tracks its user (from the query string) in the room on connect and sends the room's state. */
class RoomPresence extends JsonWebsocketConsumer {
  static override groups = ["room"];

  override async connect() {
    await this.accept();
    const user = new URLSearchParams(this.scope.query_string).get("user") ?? "anonymous";
    await this.presence.track("room", user, { device: "test" });
    await this.sendPresenceState("room");
  }

  override async receiveJson(content: unknown) {
    if ((content as { leave?: boolean }).leave) await this.presence.untrack("room", this.userName());
  }

  private userName(): string {
    return new URLSearchParams(this.scope.query_string).get("user") ?? "anonymous";
  }
}

type PresenceFrame = {
  type: string;
  group: string;
  state?: Record<string, { metas: { ref: string }[] }>;
  joins?: Record<string, { metas: { ref: string }[] }>;
  leaves?: Record<string, { metas: { ref: string }[] }>;
};

describe("presence from consumers", () => {
  it("tracks through the consumer's channel, forwards diffs to clients, and untracks when the consumer ends", async () => {
    const layer = newLayer();
    const open = (user: string) =>
      new WebsocketCommunicator(RoomPresence, `/ws/room/?user=${user}`, { channelLayer: layer });
    const alice = open("alice");
    expect((await alice.connect()).connected).toBe(true);
    const aliceState = (await alice.receiveJsonFrom(5000)) as PresenceFrame;
    expect(aliceState).toEqual({
      type: "presence.state",
      group: "room",
      state: { alice: { metas: [{ device: "test", ref: expect.any(String) }] } },
    });
    const aliceRef = aliceState.state?.alice?.metas[0]?.ref;
    // Her own join diff reaches her too (it was sent to the group before the state).
    expect(await alice.receiveJsonFrom(5000)).toMatchObject({ type: "presence.diff", joins: { alice: {} } });

    const bob = open("bob");
    expect((await bob.connect()).connected).toBe(true);
    const bobState = (await bob.receiveJsonFrom(5000)) as PresenceFrame;
    expect(Object.keys(bobState.state ?? {}).sort()).toEqual(["alice", "bob"]);
    const bobJoin = (await alice.receiveJsonFrom(5000)) as PresenceFrame;
    expect(bobJoin).toEqual({
      type: "presence.diff",
      group: "room",
      joins: { bob: { metas: [{ device: "test", ref: expect.any(String) }] } },
      leaves: {},
    });

    await bob.disconnect();
    expect(await alice.receiveJsonFrom(5000)).toEqual({
      type: "presence.diff",
      group: "room",
      joins: {},
      leaves: { bob: bobJoin.joins?.bob },
    });
    await alice.sendJsonTo({ leave: true });
    expect(await alice.receiveJsonFrom(5000)).toEqual({
      type: "presence.diff",
      group: "room",
      joins: {},
      leaves: { alice: { metas: [{ device: "test", ref: aliceRef }] } },
    });
    expect(await layer.presenceList("room")).toEqual({});
    await alice.disconnect();
    expect(layer.stats()).toMatchObject({ presenceEntries: 0, channels: 0, groups: 0 });
  });

  it("fails with UNSUPPORTED on a layer without the presence extension", async () => {
    const layer = newLayer();
    Object.defineProperty(layer, "extensions", { value: ["groups", "flush"] });
    const client = new WebsocketCommunicator(RoomPresence, "/ws/room/?user=x", { channelLayer: layer });
    await client.connect();
    await expect(client.wait(5000)).rejects.toMatchObject({ code: "UNSUPPORTED" });
  });
});
