import { RedisChannelLayer } from "@channel-layers/redis";

const layer = new RedisChannelLayer({
  hosts: ["redis://127.0.0.1:6379"],
  prefix: "bulk-" + Math.random() + ":",
  capacity: 400000,
});
const ch = await layer.newChannel();
for (let round = 0; round < 4; round++) {
  const N = 100000;
  const t = process.hrtime.bigint();
  for (let start = 0; start < N; start += 100) {
    const sends = [];
    for (let n = start; n < start + 100; n++) sends.push(layer.send(ch, { type: "bench.message", text: "hello", n }));
    await Promise.all(sends);
  }
  const mid = process.hrtime.bigint();
  for (let n = 0; n < N; n++) await layer.receive(ch);
  const end = process.hrtime.bigint();
  console.log("send/s", Math.round(N / (Number(mid - t) / 1e9)), "total/s", Math.round(N / (Number(end - t) / 1e9)));
}
await layer.flush();
await layer.close();
