import { path, re_path } from "@channel-layers/runtime";
import { ChatConsumer } from "./consumers/chat.js";
import { EchoConsumer } from "./consumers/echo.js";
import { NotificationConsumer } from "./consumers/notification.js";
import { RoomConsumer } from "./consumers/room.js";

/** routing.py of the chat, echo and notification apps, and the room page's socket. */
export const websocketUrlpatterns = [
  re_path(String.raw`ws/chat/(?P<room_name>\w+)/$`, ChatConsumer),
  path("ws/echo/", EchoConsumer),
  re_path(String.raw`ws/notification/(?P<center_name>\w+)/$`, NotificationConsumer),
  re_path(String.raw`ws/room/(?P<room_name>\w+)/$`, RoomConsumer),
];
