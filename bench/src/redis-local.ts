import { RedisChannelLayer } from "@channel-layers/redis";
import { Redis } from "ioredis";
import { ACK, COUNT_SELF, GROUP_ADD, GROUP_SEND } from "../../packages/redis/src/scripts.js";
import { type Measurement, measure } from "./harness.js";
import { EXPIRY_MS, message, newId, newPrefix, score, seconds, serializer, timeHex } from "./redis-wire.js";

/**
 * Issue 14's layer-alone cases, the common shape of a server process: everything in one
 * RedisChannelLayer instance, awaited one call at a time.
 * - fan-out-local: 100 members of one group on the one instance; each groupSend is followed by a
 *   receive on every member in turn.
 * - bulk-loop: a plain loop of awaited sends to one channel, then a plain loop of receives.
 * Each has a raw ioredis twin sending the layer's current Redis commands by hand (the group-send
 * script, the blocking pop on the process key, receipts; the self-send count script).
 */
const GROUP_TTL_MS = 86_400_000;

export async function fanOutLocal(url: string, sends: number, members: number): Promise<Measurement> {
  const layer = new RedisChannelLayer({ hosts: [url], prefix: newPrefix() });
  const channels: string[] = [];
  for (let i = 0; i < members; i++) channels.push(await layer.newChannel());
  for (const channel of channels) await layer.groupAdd("bench", channel);
  const measured = await measure(async () => {
    for (let n = 0; n < sends; n++) {
      await layer.groupSend("bench", message(n));
      for (const channel of channels) await layer.receive(channel);
    }
    return sends * members;
  });
  await layer.flush();
  await layer.close();
  return measured;
}

/** GROUP_SEND, then the process key's blocking pop until the message is back, a copy per member, receipts. */
export async function rawFanOutLocal(url: string, sends: number, members: number): Promise<Measurement> {
  const base = newPrefix();
  const command = new Redis(url);
  const blocking = new Redis(url);
  const processKey = `${base}specific.p!`;
  const groupKey = `${base}:group:bench`;
  for (let m = 0; m < members; m++) {
    await GROUP_ADD.run(command, [groupKey], [seconds(Date.now()), GROUP_TTL_MS, `specific.p!${m}`]);
  }
  await command.set(`${processKey}$receiver`, "1", "PX", 60_000);
  const measured = await measure(async () => {
    for (let n = 0; n < sends; n++) {
      const now = Date.now();
      await GROUP_SEND.run(
        command,
        [groupKey],
        [
          base,
          score(now),
          seconds(now - GROUP_TTL_MS),
          seconds(now - EXPIRY_MS),
          timeHex(now - EXPIRY_MS),
          EXPIRY_MS,
          100,
          newId(now).subarray(0, 8),
          serializer.encode(message(n)),
        ],
      );
      let delivered = 0;
      while (delivered < members) {
        const reply = (await blocking.callBuffer("BZMPOP", 5, 1, processKey, "MIN", "COUNT", 512)) as [
          Buffer,
          [Buffer, Buffer][],
        ];
        const receipts: string[] = [];
        for (const [member] of reply[1]) {
          const decoded = serializer.decode(member.subarray(12));
          const channels = decoded.__asgi_channel__ as string[];
          delete decoded.__asgi_channel__;
          const id = member.subarray(0, 12).toString("hex");
          for (const channel of channels) {
            structuredClone(decoded);
            receipts.push(`${channel.slice(channel.indexOf("!") + 1)}|${id}`);
          }
          delivered += channels.length;
        }
        await ACK.run(command, [`${processKey}$held`], [receipts.length, ...receipts]);
      }
    }
    return sends * members;
  });
  const found = await command.keys(`${base}*`);
  if (found.length > 0) await command.del(...found);
  command.disconnect();
  blocking.disconnect();
  return measured;
}

export async function bulkLoop(url: string, count: number): Promise<number> {
  const layer = new RedisChannelLayer({ hosts: [url], prefix: newPrefix(), capacity: count + 1 });
  const channel = await layer.newChannel();
  for (let n = 0; n < count; n++) await layer.send(channel, message(n));
  for (let n = 0; n < count; n++) await layer.receive(channel);
  await layer.flush();
  await layer.close();
  return count;
}

/** One COUNT_SELF per awaited send, a decode per receive, then the receipts 1,000 at a time. */
export async function rawBulkLoop(url: string, count: number): Promise<number> {
  const client = new Redis(url);
  const held = `${newPrefix()}specific.x!$held`;
  const sent: { id: string; body: Buffer }[] = [];
  for (let n = 0; n < count; n++) {
    const body = serializer.encode(message(n));
    const now = Date.now();
    const id = newId(now).toString("hex");
    await COUNT_SELF.run(client, [held], [timeHex(now - EXPIRY_MS), EXPIRY_MS, count + 1, "y", 1, id]);
    sent.push({ id, body });
  }
  for (const { body } of sent) serializer.decode(body);
  for (let start = 0; start < sent.length; start += 1000) {
    const chunk = sent.slice(start, start + 1000);
    await ACK.run(client, [held], [chunk.length, ...chunk.map(({ id }) => `y|${id}`)]);
  }
  await client.del(held);
  client.disconnect();
  return count;
}
