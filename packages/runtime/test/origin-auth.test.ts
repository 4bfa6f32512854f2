import { describe, expect, it } from "vitest";
import {
  AllowedHostsOriginValidator,
  AuthMiddlewareStack,
  isOriginAllowed,
  OriginValidator,
  parseCookies,
  type Scope,
  WebsocketConsumer,
} from "../src/index.js";
import { WebsocketCommunicator } from "../src/testing/index.js";

class Hello extends WebsocketConsumer {
  static override channelLayer = null;
  override async connect() {
    await this.accept();
    await this.send(JSON.stringify({ user: this.scope.user ?? null, cookies: this.scope.cookies ?? null }));
  }
}

describe("isOriginAllowed (Channels' OriginValidator rules)", () => {
  const cases: [string | undefined, string[], boolean][] = [
    ["http://localhost:8000", ["localhost"], true],
    ["http://127.0.0.1:5173", ["localhost", "127.0.0.1"], true],
    ["http://[::1]:8000", ["[::1]"], true],
    ["http://evil.com", ["localhost"], false],
    ["http://localhost.evil.com", ["localhost"], false],
    ["https://sub.example.com", [".example.com"], true],
    ["https://example.com", [".example.com"], true],
    ["https://notexample.com", [".example.com"], false],
    ["https://example.com", ["https://example.com"], true],
    ["http://example.com", ["https://example.com"], false],
    ["https://example.com:8443", ["https://example.com"], false],
    ["https://example.com:8443", ["https://example.com:8443"], true],
    ["https://a.example.com:443", ["https://.example.com"], true],
    ["http://EXAMPLE.com", ["example.com"], true],
    [undefined, ["localhost"], false],
    [undefined, ["*"], true],
    ["null", ["localhost"], false],
    ["anything://x", ["*"], true],
  ];
  it.each(cases)("origin %s with %j -> %s", (origin, allowed, expected) => {
    expect(isOriginAllowed(origin, allowed)).toBe(expected);
  });
});

describe("OriginValidator and AllowedHostsOriginValidator", () => {
  it("reject a bad or missing Origin at the handshake with 403, before the consumer runs", async () => {
    const application = AllowedHostsOriginValidator(Hello);
    for (const headers of [{ origin: "http://evil.example" }, {}] as Record<string, string>[]) {
      const client = new WebsocketCommunicator(application, "/", { headers, channelLayer: null });
      expect(await client.connect()).toMatchObject({ connected: false, status: 403 });
      await client.wait();
    }
    const good = new WebsocketCommunicator(application, "/", {
      headers: { origin: "http://localhost:8000" },
      channelLayer: null,
    });
    expect((await good.connect()).connected).toBe(true);
    await good.disconnect();
  });

  it("take an explicit origin list", async () => {
    const application = OriginValidator(Hello, ["https://chat.example.com"]);
    const client = new WebsocketCommunicator(application, "/", {
      headers: { origin: "https://chat.example.com" },
      channelLayer: null,
    });
    expect((await client.connect()).connected).toBe(true);
    await client.disconnect();
  });
});

describe("AuthMiddlewareStack", () => {
  it("parses cookies and puts what authenticate returns on scope.user (null when anonymous)", async () => {
    const sessions: Record<string, { name: string }> = { s3cret: { name: "kim" } };
    const application = AuthMiddlewareStack(Hello, async (scope: Scope) => sessions[scope.cookies?.session ?? ""]);
    const known = new WebsocketCommunicator(application, "/", {
      headers: { cookie: "session=s3cret; theme=dark%20blue" },
      channelLayer: null,
    });
    await known.connect();
    expect(await known.receiveJsonFrom()).toEqual({
      user: { name: "kim" },
      cookies: { session: "s3cret", theme: "dark blue" },
    });
    await known.disconnect();
    const anonymous = new WebsocketCommunicator(application, "/", { channelLayer: null });
    await anonymous.connect();
    expect(await anonymous.receiveJsonFrom()).toEqual({ user: null, cookies: {} });
    await anonymous.disconnect();
  });

  it("can authenticate from headers, and a consumer can refuse anonymous users", async () => {
    class MembersOnly extends Hello {
      override async connect() {
        if (this.scope.user === null) await this.close();
        else await super.connect();
      }
    }
    const application = AuthMiddlewareStack(MembersOnly, (scope) =>
      scope.headers.some(([name, value]) => name === "authorization" && value === "Bearer t0ken") ? "api" : undefined,
    );
    const refused = new WebsocketCommunicator(application, "/", { channelLayer: null });
    expect(await refused.connect()).toMatchObject({ connected: false, status: 403 });
    await refused.wait();
    const allowed = new WebsocketCommunicator(application, "/", {
      headers: [["Authorization", "Bearer t0ken"]],
      channelLayer: null,
    });
    expect((await allowed.connect()).connected).toBe(true);
    expect(await allowed.receiveJsonFrom()).toMatchObject({ user: "api" });
    await allowed.disconnect();
  });

  it("parseCookies keeps the first of repeated names and tolerates bad escapes", () => {
    expect(parseCookies('a=1; a=2; b="q"; c=%E0%A4%A; =x; d')).toEqual({ a: "1", b: "q", c: "%E0%A4%A" });
  });
});
