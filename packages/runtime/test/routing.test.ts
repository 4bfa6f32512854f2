import { describe, expect, it } from "vitest";
import {
  type Application,
  ChannelNameRouter,
  ProtocolTypeRouter,
  path,
  re_path,
  type Scope,
  URLRouter,
  WebsocketConsumer,
} from "../src/index.js";
import { WebsocketCommunicator } from "../src/testing/index.js";

/** Sends back where routing put it: the path and url_route of its scope. */
class Where extends WebsocketConsumer {
  static override channelLayer = null;
  override async connect() {
    await this.accept();
    await this.send(JSON.stringify({ url_route: this.scope.url_route, rest: this.scope.path_remaining }));
  }
}

async function route(application: Application, target: string) {
  const client = new WebsocketCommunicator(application, target, { channelLayer: null });
  const result = await client.connect();
  if (!result.connected) {
    await client.wait();
    return result;
  }
  const routed = JSON.parse((await client.receiveFrom()) as string);
  await client.disconnect();
  return routed;
}

describe("URLRouter", () => {
  it("matches path() routes with converters and fills url_route.kwargs", async () => {
    const router = URLRouter([
      path("ws/chat/<str:room_name>/", Where),
      path("ws/item/<int:id>/<slug:slug>/", Where),
      path("ws/plain/<name>/", Where),
      path("ws/files/<path:rest>", Where),
    ]);
    expect((await route(router, "/ws/chat/lobby/")).url_route).toEqual({ args: [], kwargs: { room_name: "lobby" } });
    expect((await route(router, "/ws/item/42/my-slug/")).url_route.kwargs).toEqual({ id: "42", slug: "my-slug" });
    expect((await route(router, "/ws/plain/x/")).url_route.kwargs).toEqual({ name: "x" });
    expect((await route(router, "/ws/files/a/b/c.txt")).url_route.kwargs).toEqual({ rest: "a/b/c.txt" });
    // An endpoint matches the whole path; int does not take letters.
    expect(await route(router, "/ws/chat/lobby/extra/")).toMatchObject({ connected: false, status: 404 });
    expect(await route(router, "/ws/item/abc/x/")).toMatchObject({ connected: false, status: 404 });
  });

  it("decodes the path before matching, as Django does", async () => {
    const router = URLRouter([path("ws/chat/<str:room_name>/", Where)]);
    expect((await route(router, "/ws/chat/%EB%B0%A9/")).url_route.kwargs).toEqual({ room_name: "방" });
  });

  it("matches re_path() routes with Python or JavaScript named groups, and unnamed groups as args", async () => {
    const router = URLRouter([
      re_path(String.raw`ws/chat/(?P<room_name>\w+)/$`, Where),
      re_path(/^ws\/n\/(?<center_name>\w+)\/$/, Where),
      re_path(String.raw`^ws/pair/(\d+)-(\d+)/$`, Where),
    ]);
    expect((await route(router, "/ws/chat/lobby/")).url_route.kwargs).toEqual({ room_name: "lobby" });
    expect((await route(router, "/ws/n/seoul/")).url_route.kwargs).toEqual({ center_name: "seoul" });
    expect((await route(router, "/ws/pair/3-4/")).url_route).toEqual({ args: ["3", "4"], kwargs: {} });
    // \w+ takes no hyphen, and a "$" pattern is a full match from the start.
    expect(await route(router, "/ws/chat/my-room/")).toMatchObject({ connected: false, status: 404 });
    expect(await route(router, "/prefix/ws/chat/lobby/")).toMatchObject({ connected: false, status: 404 });
  });

  it("nests: kwargs accumulate, and a nested router that matches nothing lets the outer one go on", async () => {
    const inner = URLRouter([path("rooms/<str:room>/", Where)]);
    const router = URLRouter([
      path("ws/<str:tenant>/", inner),
      re_path(String.raw`^ws/(?P<tenant>\w+)/other/$`, Where),
    ]);
    expect(await route(router, "/ws/acme/rooms/blue/")).toEqual({
      url_route: { args: [], kwargs: { tenant: "acme", room: "blue" } },
      rest: "",
    });
    expect((await route(router, "/ws/acme/other/")).url_route.kwargs).toEqual({ tenant: "acme" });
    expect(await route(router, "/ws/acme/nowhere/")).toMatchObject({ connected: false, status: 404 });
  });

  it("rejects a route written with a leading slash or an unknown converter", () => {
    expect(() => URLRouter([path("/ws/", Where)])).toThrow(/starts with "\/"/);
    expect(() => URLRouter([path("ws/<float:x>/", Where)])).toThrow(/converter "float"/);
  });
});

describe("ProtocolTypeRouter", () => {
  it("sends websocket scopes to its websocket application and keeps http for the server", async () => {
    const http = () => undefined;
    const application = ProtocolTypeRouter({ http, websocket: URLRouter([path("ws/", Where)]) });
    expect(application.http).toBe(http);
    expect((await route(application, "/ws/")).url_route).toEqual({ args: [], kwargs: {} });
  });

  it("fails with NO_APPLICATION for a scope type it has nothing for", async () => {
    const application = ProtocolTypeRouter({ channel: ChannelNameRouter({}) });
    const client = new WebsocketCommunicator(application, "/", { channelLayer: null });
    await expect(client.connect()).rejects.toMatchObject({ code: "NO_APPLICATION" });
  });

  it("routes a channel scope by channel name through ChannelNameRouter", async () => {
    const seen: string[] = [];
    const worker = ChannelNameRouter({
      "thumbnails-generate": async (scope: Scope) => {
        seen.push(`thumbnails:${scope.channel}`);
      },
    });
    const application = ProtocolTypeRouter({ channel: worker });
    const scope = { type: "channel", channel: "thumbnails-generate" } as Scope;
    await application(
      scope,
      async () => ({ type: "x" }),
      async () => undefined,
    );
    expect(seen).toEqual(["thumbnails:thumbnails-generate"]);
    expect(worker.channels).toEqual(["thumbnails-generate"]);
    await expect(
      application(
        { ...scope, channel: "nope" },
        async () => ({ type: "x" }),
        async () => undefined,
      ),
    ).rejects.toMatchObject({ code: "NO_APPLICATION" });
  });
});
