"""channels_redis 4 doing issue 14's layer-alone cases of bench/suites/redis-layer-alone.ts.

Usage: channels_redis_layer_alone.py <redis-url> <fan-out-local|ping-pong|bulk-loop> <messages> [members]
Prints {"operations": n, "seconds": s}: n messages delivered (received) in s seconds.
Every run uses a fresh prefix and deletes its keys afterwards.
"""
import asyncio
import json
import sys
import time
import uuid

from channels_redis.core import RedisChannelLayer


def message(n):
    return {"type": "bench.message", "text": "hello", "n": n}


async def fan_out_local(layer, sends, members):
    channels = [await layer.new_channel() for _ in range(members)]
    for channel in channels:
        await layer.group_add("bench", channel)

    async def rounds():
        for n in range(sends):
            await layer.group_send("bench", message(n))
            for channel in channels:
                await layer.receive(channel)

    # As a server process would be: the same instance has done this work before (as the Node side).
    await rounds()
    started = time.perf_counter()
    await rounds()
    return sends * members, time.perf_counter() - started


async def ping_pong(layer, count):
    channel = await layer.new_channel()
    started = time.perf_counter()
    for n in range(count):
        await layer.send(channel, message(n))
        await layer.receive(channel)
    return count, time.perf_counter() - started


async def bulk_loop(layer, count):
    channel = await layer.new_channel()
    started = time.perf_counter()
    for n in range(count):
        await layer.send(channel, message(n))
    for _ in range(count):
        await layer.receive(channel)
    return count, time.perf_counter() - started


async def main():
    url, scenario, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    prefix = "bench-py-" + uuid.uuid4().hex[:8] + ":"
    capacity = count + 1 if scenario == "bulk-loop" else 100
    layer = RedisChannelLayer(hosts=[url], prefix=prefix, capacity=capacity)
    if scenario == "fan-out-local":
        operations, seconds = await fan_out_local(layer, count, int(sys.argv[4]))
    elif scenario == "ping-pong":
        operations, seconds = await ping_pong(layer, count)
    elif scenario == "bulk-loop":
        operations, seconds = await bulk_loop(layer, count)
    else:
        raise SystemExit("unknown scenario " + scenario)
    await layer.flush()
    print(json.dumps({"operations": operations, "seconds": seconds}))


asyncio.run(main())
