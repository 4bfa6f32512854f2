"""A channels_redis 4 layer driven over stdin/stdout, for the interop tests.

Usage: channels_redis_peer.py <redis-url or JSON list of URLs> <prefix> [encryption-key ...]
Each stdin line is a JSON command; each gets one JSON line back on stdout:
  {"op": "new_channel"}                              -> {"channel": name}
  {"op": "send", "channel": c, "message": m}         -> {"ok": true}
  {"op": "receive", "channel": c, "timeout": s}      -> {"message": m} or {"timeout": true}
  {"op": "group_add", "group": g, "channel": c}      -> {"ok": true}
  {"op": "group_send", "group": g, "message": m}     -> {"ok": true}
Bytes travel as {"$bytes": hex}; any failure is {"error": text}.
With PEER_LAYER=pubsub in the environment it drives channels_redis' RedisPubSubChannelLayer instead.
"""
import asyncio
import json
import os
import sys

from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer


def to_json(value):
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    return value


def from_json(value):
    if isinstance(value, dict):
        if set(value) == {"$bytes"}:
            return bytes.fromhex(value["$bytes"])
        return {key: from_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_json(item) for item in value]
    return value


async def handle(layer, command):
    op = command["op"]
    if op == "new_channel":
        return {"channel": await layer.new_channel()}
    if op == "send":
        await layer.send(command["channel"], from_json(command["message"]))
        return {"ok": True}
    if op == "receive":
        try:
            message = await asyncio.wait_for(layer.receive(command["channel"]), command.get("timeout", 5))
        except asyncio.TimeoutError:
            return {"timeout": True}
        return {"message": to_json(message)}
    if op == "group_add":
        await layer.group_add(command["group"], command["channel"])
        return {"ok": True}
    if op == "group_send":
        await layer.group_send(command["group"], from_json(command["message"]))
        return {"ok": True}
    raise ValueError("unknown op " + op)


async def main():
    url, prefix, keys = sys.argv[1], sys.argv[2], sys.argv[3:]
    hosts = json.loads(url) if url.startswith("[") else [url]
    if os.environ.get("PEER_LAYER") == "pubsub":
        layer = RedisPubSubChannelLayer(hosts=hosts, prefix=prefix)
    else:
        layer = RedisChannelLayer(hosts=hosts, prefix=prefix, symmetric_encryption_keys=keys or None)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        try:
            reply = await handle(layer, json.loads(line))
        except Exception as error:  # reported to the test, which fails on it
            reply = {"error": repr(error)}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    await layer.flush()


asyncio.run(main())
