import type { Message } from "@channel-layers/core";
import { JsonWebsocketConsumer } from "@channel-layers/runtime";
import { getNotifications } from "../notifications.js";

/**
 * The notification consumer: every socket of a center joins the group named after it; the HTTP
 * endpoint (views.ts) group-sends `{"type": "notify", "data": ...}` there.
 */
export class NotificationConsumer extends JsonWebsocketConsumer {
  groupName = "";

  override async connect() {
    this.groupName = this.scope.url_route.kwargs.center_name ?? "";
    await this.groupAdd(this.groupName);
    await this.accept();

    // Django's version group-sends get_notification() on connect; only the new socket needs the backlog.
    const notifications = getNotifications(this.groupName);
    if (notifications.length > 0) await this.sendJson({ data: notifications });
  }

  override async disconnect(_closeCode: number) {
    await this.groupDiscard(this.groupName);
  }

  async notify(event: Message) {
    await this.sendJson({ data: event.data });
  }
}
