// src/app.ts, compiled to dist/app.js: what `channel-layers serve dist/app.js` runs.
import {
  AllowedHostsOriginValidator,
  type HttpHandler,
  JsonWebsocketConsumer,
  ProtocolTypeRouter,
  re_path,
  URLRouter,
  withHealthChecks,
} from "@channel-layers/runtime";

/** Everyone in a room hears what anyone in it sends, whichever process serves them. */
class RoomConsumer extends JsonWebsocketConsumer {
  room = "";

  override async connect() {
    this.room = `room_${this.scope.url_route.kwargs.room_name}`;
    await this.groupAdd(this.room);
    await this.accept();
  }

  override async receiveJson(content: unknown) {
    await this.groupSend(this.room, { type: "room.message", content });
  }

  async room_message(event: { content: unknown }) {
    await this.sendJson(event.content);
  }
}

const views: HttpHandler = (_request, response) => {
  response.writeHead(404, { "content-type": "text/plain" }).end("Not found");
};

export default ProtocolTypeRouter({
  // /healthz and /readyz for systemd, Docker, Kubernetes and load balancers; the rest to the views.
  http: withHealthChecks(views),
  websocket: AllowedHostsOriginValidator(
    URLRouter([re_path(String.raw`^ws/rooms/(?P<room_name>\w+)/$`, RoomConsumer)]),
    (process.env.ALLOWED_HOSTS ?? "localhost").split(","),
  ),
});
