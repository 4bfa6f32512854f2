import { describe, expect, it } from "vitest";
import { LocalGroups } from "../src/local-groups.js";

describe("LocalGroups", () => {
  it("tells a group's first member and when a group is left empty", () => {
    const groups = new LocalGroups();
    expect(groups.add("room", "a", 0)).toBe(true);
    expect(groups.add("room", "b", 0)).toBe(false);
    expect(groups.add("room", "a", 0)).toBe(false);
    expect(groups.members("room", 0)).toEqual(["a", "b"]);
    expect(groups.remove("room", "nobody")).toBe(false);
    expect(groups.remove("room", "a")).toBe(false);
    expect(groups.remove("room", "b")).toBe(true);
    expect(groups.has("room")).toBe(false);
    expect(groups.membershipCount).toBe(0);
  });

  it("takes a channel out of every group it is in", () => {
    const groups = new LocalGroups();
    for (const group of ["g1", "g2", "g3"]) groups.add(group, "gone", 0);
    groups.add("g2", "stays", 0);
    expect(groups.removeChannel("gone").sort()).toEqual(["g1", "g2", "g3"]);
    expect([groups.has("g1"), groups.has("g2"), groups.has("g3")]).toEqual([false, true, false]);
    expect(groups.groupsOf("gone")).toEqual([]);
    expect(groups.removeChannel("gone")).toEqual([]);
  });

  it("lapses memberships after groupExpiryMs; add renews; sweeps report emptied groups", () => {
    const groups = new LocalGroups({ groupExpiryMs: 100 });
    groups.add("room", "lapsing", 0);
    groups.add("room", "renewed", 0);
    groups.add("lonely", "only", 0);
    groups.add("room", "renewed", 80);
    expect(groups.members("room", 150)).toEqual(["renewed"]);
    expect(groups.groupsOf("lapsing")).toEqual([]);
    expect(groups.sweepIfDue(150)).toEqual(["lonely"]);
    expect(groups.sweepIfDue(151)).toEqual([]);
    expect(groups.sweep(1000)).toEqual(["room"]);
    expect(groups.groupCount).toBe(0);
  });

  it("clear() forgets everything and returns the groups there were", () => {
    const groups = new LocalGroups();
    groups.add("a", "x", 0);
    groups.add("b", "x", 0);
    expect(groups.clear()).toEqual(["a", "b"]);
    expect(groups.groupsOf("x")).toEqual([]);
  });
});
