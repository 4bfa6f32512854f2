import { closeChannelLayers } from "@channel-layers/runtime";
import { LiveWebsocketCommunicator } from "@channel-layers/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ChatServer, startChatServer } from "../src/app.js";
import { getNotifications, NOTIFICATION_LIMITS, notificationStats } from "../src/notifications.js";
import { readSettings } from "../src/settings.js";

// The notification endpoint as an attacker and a flood would use it: the same-origin check Django's
// CsrfViewMiddleware applies, JSON only, bounded entries and centres, nothing stored before it is valid.
let chat: ChatServer;
let base = "";
const sockets: LiveWebsocketCommunicator[] = [];

beforeAll(async () => {
  chat = await startChatServer({ ...readSettings({}), port: 0 }, { shutdownSignals: [] });
  base = chat.server.url;
});
afterAll(async () => {
  await Promise.all(sockets.map((socket) => socket.disconnect()));
  await chat.server.close();
  await closeChannelLayers();
});

async function listen(center: string): Promise<LiveWebsocketCommunicator> {
  const socket = new LiveWebsocketCommunicator(`${base.replace("http", "ws")}/ws/notification/${center}/`);
  sockets.push(socket);
  expect((await socket.connect()).connected).toBe(true);
  return socket;
}

function post(center: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}/notification/${center}/`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
}

const json = (data: unknown) => JSON.stringify({ data });

describe("the same-origin check (Django's CSRF origin check)", () => {
  it("refuses a POST whose Origin, Referer or Sec-Fetch-Site says another site, and delivers and stores nothing", async () => {
    const listener = await listen("csrf");
    const crossSite: Record<string, string>[] = [
      { origin: "http://evil.example" },
      { origin: "null" },
      { referer: "http://evil.example/page.html" },
      { "sec-fetch-site": "cross-site" },
      { "sec-fetch-site": "same-site", origin: "http://sub.evil.example" },
    ];
    for (const headers of crossSite) {
      const response = await post("csrf", json("forged"), headers);
      expect(response.status, JSON.stringify(headers)).toBe(403);
    }
    expect(await listener.receiveNothing(200)).toBe(true);
    expect(getNotifications("csrf")).toEqual([]);
  });

  it("accepts the page's own origin, and clients that send no browser headers (curl)", async () => {
    const listener = await listen("sameorigin");
    const host = new URL(base).host;
    const sameSite: Record<string, string>[] = [
      { origin: base },
      { referer: `${base}/notification/sameorigin/` },
      { "sec-fetch-site": "same-origin" },
      {},
    ];
    for (const headers of sameSite) {
      expect((await post("sameorigin", json(`hello ${host}`), headers)).status, JSON.stringify(headers)).toBe(202);
      expect(await listener.receiveJsonFrom()).toEqual({ data: `hello ${host}` });
    }
  });

  it("takes JSON only: text/plain, form encodings and no content type (what a cross-site form can send) get 415", async () => {
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""]) {
      const response = await fetch(`${base}/notification/plain/`, {
        method: "POST",
        headers: type ? { "content-type": type } : {},
        body: json("as a form would"),
      });
      expect(response.status, type).toBe(415);
    }
    expect(getNotifications("plain")).toEqual([]);
    expect((await post("plain", json("ok"), { "content-type": "application/json; charset=utf-8" })).status).toBe(202);
  });
});

describe("validation before storing", () => {
  it("answers 400 to a body without data, and to a center name the layer would refuse, storing nothing", async () => {
    for (const body of ['{"nodata": 1}', "[1, 2]", '"data"', "{"]) {
      expect((await post("valid", body)).status, body).toBe(400);
    }
    expect(getNotifications("valid")).toEqual([]);
    const longName = "c".repeat(100);
    const response = await post(longName, json("too long a name"));
    expect(response.status).toBe(400);
    expect(getNotifications(longName)).toEqual([]);
  });

  it("answers 413 to an entry over maxEntryBytes, and stores it not", async () => {
    const big = "x".repeat(NOTIFICATION_LIMITS.maxEntryBytes);
    expect((await post("sizes", json(big))).status).toBe(413);
    expect((await post("sizes", json("x".repeat(64 * 1024)))).status).toBe(413);
    expect(getNotifications("sizes")).toEqual([]);
    expect((await post("sizes", json(big.slice(0, NOTIFICATION_LIMITS.maxEntryBytes - 2)))).status).toBe(202);
  });
});

describe("bounded memory", () => {
  it("keeps at most maxCentres centers, evicting the least recently used", async () => {
    const count = NOTIFICATION_LIMITS.maxCentres + 20;
    const centers = Array.from({ length: count }, (_, index) => `flood${index}`);
    for (let start = 0; start < count; start += 25) {
      const batch = centers.slice(start, start + 25);
      const statuses = await Promise.all(batch.map(async (center) => (await post(center, json(center))).status));
      expect(new Set(statuses)).toEqual(new Set([202]));
    }
    const kept = centers.filter((center) => getNotifications(center).length > 0);
    expect(kept.length).toBeLessThanOrEqual(NOTIFICATION_LIMITS.maxCentres);
    expect(kept).toContain(centers.at(-1));
    expect(kept).not.toContain("flood0");
    expect(notificationStats().centres).toBeLessThanOrEqual(NOTIFICATION_LIMITS.maxCentres);
  });

  it("keeps the stored bytes under maxStoredBytes and keptPerCentre entries per center", async () => {
    const entry = "y".repeat(NOTIFICATION_LIMITS.maxEntryBytes - 100);
    const perCentre = NOTIFICATION_LIMITS.keptPerCentre + 5;
    const centres =
      Math.ceil(NOTIFICATION_LIMITS.maxStoredBytes / (entry.length * NOTIFICATION_LIMITS.keptPerCentre)) + 2;
    for (let centre = 0; centre < centres; centre++) {
      const statuses = await Promise.all(
        Array.from({ length: perCentre }, async () => (await post(`bytes${centre}`, json(entry))).status),
      );
      expect(new Set(statuses)).toEqual(new Set([202]));
    }
    const stats = notificationStats();
    expect(stats.bytes).toBeLessThanOrEqual(NOTIFICATION_LIMITS.maxStoredBytes);
    expect(getNotifications(`bytes${centres - 1}`)).toHaveLength(NOTIFICATION_LIMITS.keptPerCentre);
    expect(stats.entries).toBeLessThanOrEqual(NOTIFICATION_LIMITS.maxCentres * NOTIFICATION_LIMITS.keptPerCentre);
  });
});
