from collections import defaultdict, deque

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer

# The latest notifications of each center, for sockets that connect later (a model in a real app).
BACKLOG = defaultdict(lambda: deque(maxlen=20))


def get_notification(center_name):
    return list(BACKLOG[center_name])


async def notify_center(center_name, data):
    """What a view does: send to every socket of the center, keep it for those that come later."""
    await get_channel_layer().group_send(center_name, {"type": "notify", "data": data})
    BACKLOG[center_name].append(data)


class NotificationConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.group_name = self.scope["url_route"]["kwargs"]["center_name"]
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()

        notifications = get_notification(self.group_name)
        if notifications:
            await self.send_json({"data": notifications})

    async def disconnect(self, close_code):
        await self.channel_layer.group_discard(self.group_name, self.channel_name)

    async def notify(self, event):
        await self.send_json({"data": event["data"]})
