"""Django Channels' InMemoryChannelLayer doing the scenarios of bench/suites/memory.ts.

Usage: channels_memory.py <ping-pong|bulk|fan-out> <messages> [members (fan-out) | rounds (bulk)]
Prints {"operations": n, "seconds": s}: n messages delivered (received) in s seconds, the best of
BENCH_RUNS runs (default 1), each on a fresh layer, as the Node side takes the best of its runs.
"""
import asyncio
import json
import os
import sys
import time

from channels.layers import InMemoryChannelLayer


def message(n):
    return {"type": "bench.message", "text": "hello", "n": n}


async def ping_pong(count):
    layer = InMemoryChannelLayer()
    channel = await layer.new_channel()
    started = time.perf_counter()
    for n in range(count):
        await layer.send(channel, message(n))
        await layer.receive(channel)
    return count, time.perf_counter() - started


async def bulk(count, rounds):
    layer = InMemoryChannelLayer(capacity=count)
    channel = await layer.new_channel()
    started = time.perf_counter()
    for _ in range(rounds):
        for n in range(count):
            await layer.send(channel, message(n))
        for n in range(count):
            await layer.receive(channel)
    return count * rounds, time.perf_counter() - started


async def fan_out(sends, members):
    layer = InMemoryChannelLayer(capacity=sends + 1)
    channels = [await layer.new_channel() for _ in range(members)]
    for channel in channels:
        await layer.group_add("bench", channel)

    async def drain(channel):
        for _ in range(sends):
            await layer.receive(channel)

    started = time.perf_counter()
    receivers = [asyncio.ensure_future(drain(channel)) for channel in channels]
    for n in range(sends):
        await layer.group_send("bench", message(n))
    await asyncio.gather(*receivers)
    return sends * members, time.perf_counter() - started


async def run_once(scenario, count):
    if scenario == "ping-pong":
        return await ping_pong(count)
    if scenario == "bulk":
        return await bulk(count, int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    if scenario == "fan-out":
        return await fan_out(count, int(sys.argv[3]))
    raise SystemExit("unknown scenario " + scenario)


async def main():
    scenario, count = sys.argv[1], int(sys.argv[2])
    runs = [await run_once(scenario, count) for _ in range(int(os.environ.get("BENCH_RUNS", "1")))]
    operations, seconds = min(runs, key=lambda run: run[1])
    print(json.dumps({"operations": operations, "seconds": seconds}))


asyncio.run(main())
