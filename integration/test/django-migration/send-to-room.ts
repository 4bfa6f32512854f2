import { getChannelLayer } from "@channel-layers/runtime";

/** A view's `async_to_sync(channel_layer.group_send)(...)`: every socket in the room gets it, Django's and Node's. */
export async function sendToRoom(roomName: string, message: string): Promise<void> {
  const channelLayer = await getChannelLayer();
  await channelLayer.groupSend(`chat_${roomName}`, { type: "chat.message", message });
}
