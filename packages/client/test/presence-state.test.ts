import { describe, expect, it } from "vitest";
import { type PresenceMap, PresenceState } from "../src/index.js";

const meta = (ref: string, extra: Record<string, unknown> = {}) => ({ ref, ...extra });

describe("PresenceState.syncState and syncDiff", () => {
  it("turns a snapshot into joins and leaves by ref, reporting only what changed", () => {
    const calls: string[] = [];
    const onJoin = (key: string, current: unknown, joined: { metas: { ref: string }[] }) =>
      calls.push(`join ${key} ${joined.metas.map((m) => m.ref)} had ${current === undefined ? "none" : "some"}`);
    const onLeave = (key: string, _current: unknown, left: { metas: { ref: string }[] }) =>
      calls.push(`leave ${key} ${left.metas.map((m) => m.ref)}`);
    const before: PresenceMap = { alice: { metas: [meta("a1"), meta("a2")] }, bob: { metas: [meta("b1")] } };
    const snapshot: PresenceMap = { alice: { metas: [meta("a2"), meta("a3")] }, carol: { metas: [meta("c1")] } };
    const after = PresenceState.syncState(before, snapshot, onJoin, onLeave);
    expect(after).toEqual({ alice: { metas: [meta("a2"), meta("a3")] }, carol: { metas: [meta("c1")] } });
    expect(calls).toEqual(["join alice a3 had some", "join carol c1 had none", "leave alice a1", "leave bob b1"]);
    expect(before.bob, "the state passed in is not changed").toEqual({ metas: [meta("b1")] });
  });

  it("applies a diff: a join of a ref already there replaces it silently; a leave of an unknown ref is ignored", () => {
    const calls: string[] = [];
    const state: PresenceMap = { alice: { metas: [meta("a1", { status: "online" })] } };
    const next = PresenceState.syncDiff(
      state,
      {
        joins: { alice: { metas: [meta("a1", { status: "away" })] }, constructor: { metas: [meta("k1")] } },
        leaves: { bob: { metas: [meta("b1")] }, alice: { metas: [meta("zz")] } },
      },
      (key) => calls.push(`join ${key}`),
      (key) => calls.push(`leave ${key}`),
    );
    expect(next.alice).toEqual({ metas: [meta("a1", { status: "away" })] });
    expect(next.constructor).toEqual({ metas: [meta("k1")] });
    expect(calls).toEqual(["join constructor"]);
  });

  it("holds diffs that come before the snapshot and applies them after it", () => {
    const presence = new PresenceState();
    presence.syncDiff({ joins: { bob: { metas: [meta("b1")] } }, leaves: {} });
    expect(presence.state).toEqual({});
    const synced: number[] = [];
    presence.onSync(() => synced.push(Object.keys(presence.state).length));
    presence.syncState({ alice: { metas: [meta("a1")] } });
    expect(presence.state).toEqual({ alice: { metas: [meta("a1")] }, bob: { metas: [meta("b1")] } });
    presence.syncDiff({ joins: {}, leaves: { alice: { metas: [meta("a1")] } } });
    expect(presence.list((key) => key)).toEqual(["bob"]);
    expect(synced).toEqual([2, 1]);
  });
});
