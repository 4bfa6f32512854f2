import { hasHistory, hasPresence, type Message } from "@channel-layers/core";
import { CloseCode, JsonWebsocketConsumer } from "@channel-layers/runtime";

/** Longest room name: its groups (`chat_<room>`, `online_<room>`) must stay under 100 characters. */
const MAX_ROOM_NAME = 90;
/** Longest name shown in the list of who is online. */
const MAX_USER_NAME = 40;

/**
 * The room page's consumer: the tutorial's ChatConsumer (same group `chat_<room>`, same
 * `chat_message` events, so it chats with the tutorial's sockets and a Django app's on a shared
 * Redis) plus who is online and resume after reconnect, on layers that have them.
 *
 * Who is online lives in its own group, `online_<room>`, so the tutorial's sockets in the room
 * never get presence frames they do not know.
 */
export class RoomConsumer extends JsonWebsocketConsumer {
  // Frames of the room's messages carry { group, offset }: the client's offsets advance, so it resumes.
  static override includePositions = true;

  roomGroupName = "";
  onlineGroupName = "";
  userName = "";

  override async connect() {
    const roomName = this.scope.url_route.kwargs.room_name ?? "";
    if (roomName.length > MAX_ROOM_NAME) return this.close();
    this.roomGroupName = `chat_${roomName}`;
    this.onlineGroupName = `online_${roomName}`;
    this.userName = this.nameOfUser();

    // Join the room (where a reconnecting page's missed messages are replayed) and its list of who is online.
    await this.groupAdd(this.roomGroupName);
    await this.groupAdd(this.onlineGroupName);
    await this.accept();

    const layer = this.channelLayer;
    const presence = layer !== undefined && hasPresence(layer);
    await this.sendJson({
      type: "room.joined",
      name: this.userName,
      presence,
      resume: layer !== undefined && hasHistory(layer) && layer.groupHistoryRule(this.roomGroupName) !== undefined,
    });
    if (presence) {
      // The track ends when this consumer does: its leave reaches the room whichever way the page goes.
      await this.presence.track(this.onlineGroupName, this.userName, { online_at: Date.now() });
      await this.sendPresenceState(this.onlineGroupName);
    }
  }

  override async disconnect(_closeCode: number) {
    await this.groupDiscard(this.roomGroupName);
    await this.groupDiscard(this.onlineGroupName);
  }

  // The page sends {"message": "..."}, as the tutorial's.
  override async receiveJson(content: unknown) {
    const message = (content as { message?: unknown } | null)?.message;
    if (typeof message !== "string") {
      await this.close(CloseCode.invalidPayload, 'Send {"message": "..."}');
      return;
    }
    await this.groupSend(this.roomGroupName, { type: "chat_message", message });
  }

  // A message of the room, live or replayed after a reconnect: the same frame either way.
  async chat_message(event: Message) {
    await this.sendJson({ type: "chat.message", message: event.message });
  }

  /** The logged-in user (a `username` cookie), else the page's `?name=`, else "anonymous". */
  private nameOfUser(): string {
    const user = this.scope.user as { username?: unknown } | null | undefined;
    const given =
      typeof user?.username === "string" ? user.username : new URLSearchParams(this.scope.query_string).get("name");
    // By code points, so a cut never leaves half a surrogate pair (the layer refuses such keys).
    const name = Array.from((given ?? "").trim())
      .slice(0, MAX_USER_NAME)
      .join("");
    return name === "" ? "anonymous" : name;
  }
}
