from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import SimpleTestCase, override_settings

from mysite.asgi import application

ORIGIN = [(b"origin", b"http://localhost")]  # AllowedHostsOriginValidator wants one


@override_settings(CHANNEL_LAYERS={"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}})
class ConsumerTests(SimpleTestCase):
    async def test_echo_sends_back_content_and_user(self):
        communicator = WebsocketCommunicator(application, "/ws/echo/", headers=ORIGIN)
        connected, _ = await communicator.connect()
        self.assertTrue(connected)
        await communicator.send_json_to({"content": "hello", "user": "alice"})
        self.assertEqual(await communicator.receive_json_from(), {"content": "hello", "user": "alice"})
        await communicator.disconnect()

    async def test_chat_relays_to_the_room_and_nobody_else(self):
        alice = WebsocketCommunicator(application, "/ws/chat/lobby/", headers=ORIGIN)
        bob = WebsocketCommunicator(application, "/ws/chat/lobby/", headers=ORIGIN)
        carol = WebsocketCommunicator(application, "/ws/chat/other/", headers=ORIGIN)
        for communicator in (alice, bob, carol):
            connected, _ = await communicator.connect()
            self.assertTrue(connected)
        await alice.send_json_to({"message": "hello"})
        self.assertEqual(await bob.receive_json_from(), {"message": "hello"})
        self.assertEqual(await alice.receive_json_from(), {"message": "hello"})
        self.assertTrue(await carol.receive_nothing())
        for communicator in (alice, bob, carol):
            await communicator.disconnect()

    async def test_notification_reaches_the_sockets_of_its_center(self):
        communicator = WebsocketCommunicator(application, "/ws/notification/seoul/", headers=ORIGIN)
        connected, _ = await communicator.connect()
        self.assertTrue(connected)
        await get_channel_layer().group_send("seoul", {"type": "notify", "data": "점검 안내"})
        self.assertEqual(await communicator.receive_json_from(), {"data": "점검 안내"})
        await communicator.disconnect()

    async def test_foreign_origin_is_refused(self):
        headers = [(b"origin", b"http://evil.example")]
        communicator = WebsocketCommunicator(application, "/ws/chat/lobby/", headers=headers)
        connected, _ = await communicator.connect()
        self.assertFalse(connected)
