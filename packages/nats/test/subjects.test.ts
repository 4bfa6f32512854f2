import { receiveOrNothing, receiveWithin } from "@channel-layers/core/conformance";
import { afterAll, describe, expect, it } from "vitest";
import { decodeToken, encodeToken, SubjectMap } from "../src/subjects.js";
import { NatsTestServer, randomPrefix } from "./nats-server.js";

/** Valid names built to collide under careless mappings (`.` to `_`, dropping empty tokens, ...). */
const HOSTILE_NAMES = [
  "a.b",
  "a_b",
  "a-b",
  "a..b",
  "a...b",
  ".a",
  "a.",
  "..",
  ".",
  "_",
  "-",
  "__",
  "a.b.c",
  "a_b.c",
  "a.b_c",
  "i",
  "g",
  "q",
  "q.x",
  "m",
  "ctl",
  "_INBOX",
  "$JS",
  "A.B",
  "x".repeat(99),
  `${".".repeat(49)}${"_".repeat(50)}`,
].filter((name) => /^[a-zA-Z\d\-_.]+$/.test(name));

/** NATS subject rules: tokens split by `.`, none empty, no whitespace, `*` and `>` only as whole-token wildcards. */
function assertLiteralSubject(subject: string): void {
  expect(subject).not.toMatch(/\s/);
  for (const token of subject.split(".")) {
    expect(token.length, subject).toBeGreaterThan(0);
    expect(token, subject).not.toMatch(/[*>]/);
  }
}

describe("subject mapping", () => {
  const map = new SubjectMap("app.prod-1_x");

  it("maps every valid name to one literal token, injectively, and back", () => {
    const tokens = HOSTILE_NAMES.map(encodeToken);
    expect(new Set(tokens).size).toBe(HOSTILE_NAMES.length);
    for (const [i, token] of tokens.entries()) {
      expect(token).not.toContain(".");
      expect(token).not.toBe("*");
      expect(token).not.toBe(">");
      expect(decodeToken(token)).toBe(HOSTILE_NAMES[i]);
    }
  });

  it("gives each channel and group its own literal subject, and keeps kinds and prefixes apart", () => {
    const subjects = [
      ...HOSTILE_NAMES.map((name) => map.channel(name)),
      ...HOSTILE_NAMES.map((name) => map.group(name)),
      ...HOSTILE_NAMES.map((name) => map.membership(name)),
      map.instance("0123456789abcdef"),
      map.control,
    ];
    for (const subject of subjects) assertLiteralSubject(subject);
    expect(new Set(subjects).size).toBe(subjects.length);
    for (const name of HOSTILE_NAMES) expect(map.channelOf(map.channel(name))).toBe(name);
    // A prefix and a longer one sharing its start never share a subject space.
    for (const other of ["app", "app.prod", "app.prod-1_x.y", "app.prod-1_x_"]) {
      expect(new SubjectMap(other).root).not.toBe(map.root);
      expect(map.channel("a").startsWith(`${new SubjectMap(other).root}.`)).toBe(false);
    }
  });

  it("names a stream per channel, different for every name and prefix", () => {
    const names = new Set([
      ...HOSTILE_NAMES.map((name) => map.channelStream(name)),
      ...HOSTILE_NAMES.map((name) => new SubjectMap("app").channelStream(name)),
      map.membershipStream,
      map.blobStream,
    ]);
    expect(names.size).toBe(HOSTILE_NAMES.length * 2 + 2);
    for (const name of names) expect(name).toMatch(/^[a-z0-9_]+$/);
  });
});

const server = await NatsTestServer.start();
afterAll(() => server?.stop());

describe.runIf(server)("hostile names on a server", () => {
  const live = server as NatsTestServer;

  it("delivers to each hostile named channel only its own messages", async () => {
    const layer = live.layer();
    try {
      for (const name of HOSTILE_NAMES) await layer.send(name, { type: "for", name });
      for (const name of HOSTILE_NAMES) {
        expect(await receiveWithin(layer, name, 5000)).toEqual({ type: "for", name });
        expect(await receiveOrNothing(layer, name, 20)).toBeUndefined();
      }
    } finally {
      await layer.close();
    }
  });

  it("keeps hostile group names apart, across instances, with every subject on the wire literal", async () => {
    const prefix = randomPrefix("hostile.names");
    const [a, b] = [live.layer({ prefix }), live.layer({ prefix })];
    const watcher = await live.connection();
    const seen: string[] = [];
    const tap = watcher.subscribe(`${new SubjectMap(prefix).root}.>`, {
      callback: (_error, msg) => {
        seen.push(msg.subject);
      },
    });
    await watcher.flush();
    try {
      const members = new Map<string, string>();
      for (const group of HOSTILE_NAMES) {
        const channel = await b.newChannel();
        members.set(group, channel);
        await a.groupAdd(group, channel);
      }
      for (const group of HOSTILE_NAMES) await a.groupSend(group, { type: "to", group });
      for (const [group, channel] of members) {
        expect(await receiveWithin(b, channel, 5000)).toEqual({ type: "to", group });
        expect(await receiveOrNothing(b, channel, 20)).toBeUndefined();
      }
      await watcher.flush();
      expect(seen.length).toBeGreaterThan(HOSTILE_NAMES.length);
      for (const subject of seen) assertLiteralSubject(subject);
    } finally {
      tap.unsubscribe();
      await Promise.all([a.close(), b.close()]);
    }
  });
});
