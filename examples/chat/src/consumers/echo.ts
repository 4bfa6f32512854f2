import { CloseCode, WebsocketConsumer, type WebsocketData } from "@channel-layers/runtime";
import { parseObject } from "./parse.js";

/** app/consumers.py, the echo consumer: sends back the content and user of each JSON frame. */
export class EchoConsumer extends WebsocketConsumer {
  // Echoing needs no channel layer: no channel is made for these sockets.
  static override channelLayer = null;

  override async receive(textData: WebsocketData) {
    const obj = parseObject(textData); // 문자열에서 객체로 역직렬화
    if (obj === undefined) {
      await this.close(CloseCode.invalidPayload, 'Send {"content": "...", "user": "..."}');
      return;
    }

    const jsonString = JSON.stringify({
      // 객체를 문자열로 직렬화
      content: obj.content,
      user: obj.user,
    });
    await this.send(jsonString);
    // send로는 텍스트 혹은 바이너리만 보낼 수 있어, 객체는 직렬화해서 보낸다.
  }
}
