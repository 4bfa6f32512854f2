"""channels_redis 4 (Django Channels' RedisChannelLayer) doing the scenarios of bench/suites/redis.ts.

Usage: channels_redis_bench.py <redis-url> <scenario> <messages> [members] [instances]
Scenarios: ping-pong, ping-pong-2, bulk, bulk-loop, fan-out <members> <instances>, fan-out-local <members>.
Prints {"operations": n, "seconds": s}: n messages delivered (received) in s seconds.
Every run uses a fresh prefix and deletes its keys afterwards.
"""
import asyncio
import json
import sys
import time
import uuid

from channels_redis.core import RedisChannelLayer

# Concurrent sends in bulk: enough to keep Redis busy without one connection per message.
BULK_WINDOW = int(__import__("os").environ.get("BULK_WINDOW", "100"))


def message(n):
    return {"type": "bench.message", "text": "hello", "n": n}


def make_layer(url, prefix, capacity=100):
    return RedisChannelLayer(hosts=[url], prefix=prefix, capacity=capacity)


async def ping_pong(url, prefix, count):
    layer = make_layer(url, prefix)
    channel = await layer.new_channel()
    started = time.perf_counter()
    for n in range(count):
        await layer.send(channel, message(n))
        await layer.receive(channel)
    seconds = time.perf_counter() - started
    await layer.flush()
    return count, seconds


async def ping_pong_across(url, prefix, count):
    a, b = make_layer(url, prefix), make_layer(url, prefix)
    to_a, to_b = await a.new_channel(), await b.new_channel()

    async def reply():
        for _ in range(count // 2):
            await b.send(to_a, await b.receive(to_b))

    started = time.perf_counter()
    replying = asyncio.ensure_future(reply())
    for n in range(count // 2):
        await a.send(to_b, message(n))
        await a.receive(to_a)
    await replying
    seconds = time.perf_counter() - started
    await a.flush()
    return count, seconds


async def bulk(url, prefix, count):
    layer = make_layer(url, prefix, capacity=count + 1)
    channel = await layer.new_channel()
    started = time.perf_counter()
    for start in range(0, count, BULK_WINDOW):
        await asyncio.gather(*(layer.send(channel, message(n)) for n in range(start, min(count, start + BULK_WINDOW))))
    for _ in range(count):
        await layer.receive(channel)
    seconds = time.perf_counter() - started
    await layer.flush()
    return count, seconds


async def bulk_loop(url, prefix, count):
    layer = make_layer(url, prefix, capacity=count + 1)
    channel = await layer.new_channel()
    started = time.perf_counter()
    for n in range(count):
        await layer.send(channel, message(n))
    for _ in range(count):
        await layer.receive(channel)
    seconds = time.perf_counter() - started
    await layer.flush()
    return count, seconds


async def fan_out_local(url, prefix, sends, members):
    """One layer holding every member; each group_send is followed by a receive on every member in turn."""
    layer = make_layer(url, prefix)
    channels = [await layer.new_channel() for _ in range(members)]
    for channel in channels:
        await layer.group_add("bench", channel)
    started = time.perf_counter()
    for n in range(sends):
        await layer.group_send("bench", message(n))
        for channel in channels:
            await layer.receive(channel)
    seconds = time.perf_counter() - started
    await layer.flush()
    return sends * members, seconds


async def fan_out(url, prefix, sends, members, instances):
    sender = make_layer(url, prefix, capacity=sends + 1)
    receivers = [make_layer(url, prefix, capacity=sends + 1) for _ in range(instances)]
    channels = []
    for i in range(members):
        layer = receivers[i % instances]
        channel = await layer.new_channel()
        channels.append((layer, channel))
    for start in range(0, members, 500):
        await asyncio.gather(*(sender.group_add("bench", channel) for _, channel in channels[start:start + 500]))

    async def drain(layer, channel):
        for _ in range(sends):
            await layer.receive(channel)

    started = time.perf_counter()
    draining = [asyncio.ensure_future(drain(layer, channel)) for layer, channel in channels]
    for n in range(sends):
        await sender.group_send("bench", message(n))
    await asyncio.gather(*draining)
    seconds = time.perf_counter() - started
    await sender.flush()
    return sends * members, seconds


async def main():
    url, scenario, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    prefix = "bench-py-" + uuid.uuid4().hex[:8] + ":"
    if scenario == "ping-pong":
        operations, seconds = await ping_pong(url, prefix, count)
    elif scenario == "ping-pong-2":
        operations, seconds = await ping_pong_across(url, prefix, count)
    elif scenario == "bulk":
        operations, seconds = await bulk(url, prefix, count)
    elif scenario == "bulk-loop":
        operations, seconds = await bulk_loop(url, prefix, count)
    elif scenario == "fan-out-local":
        operations, seconds = await fan_out_local(url, prefix, count, int(sys.argv[4]))
    elif scenario == "fan-out":
        operations, seconds = await fan_out(url, prefix, count, int(sys.argv[4]), int(sys.argv[5]))
    else:
        raise SystemExit("unknown scenario " + scenario)
    print(json.dumps({"operations": operations, "seconds": seconds}))


asyncio.run(main())
