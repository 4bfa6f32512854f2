import type { Message } from "@channel-layers/core";
import { CloseCode, WebsocketConsumer, type WebsocketData } from "@channel-layers/runtime";
import { parseObject } from "./parse.js";

/** chat/consumers.py: the tutorial's ChatConsumer, joining group chat_<room_name>. */
export class ChatConsumer extends WebsocketConsumer {
  roomName = "";
  roomGroupName = "";

  override async connect() {
    this.roomName = this.scope.url_route.kwargs.room_name ?? "";
    this.roomGroupName = `chat_${this.roomName}`;

    // Join room group
    await this.groupAdd(this.roomGroupName);

    await this.accept();
  }

  override async disconnect(_closeCode: number) {
    // Leave room group
    await this.groupDiscard(this.roomGroupName);
  }

  // Receive message from WebSocket
  override async receive(textData: WebsocketData) {
    const textDataJson = parseObject(textData);
    const message = textDataJson?.message;
    if (typeof message !== "string") {
      // Django's tutorial would raise here; a client's bad frame closes its own socket instead.
      await this.close(CloseCode.invalidPayload, 'Send {"message": "..."}');
      return;
    }

    // Send message to room group
    await this.groupSend(this.roomGroupName, { type: "chat_message", message });
  }

  // Receive message from room group
  async chat_message(event: Message) {
    const message = event.message;

    // Send message to WebSocket
    await this.send(JSON.stringify({ message }));
  }
}
