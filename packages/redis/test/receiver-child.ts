// A process that receives on one named channel and never returns: the process-death test kills
// it with SIGKILL while it waits. Usage: receiver-child.ts <redis-url> <prefix> <channel>
import { RedisChannelLayer } from "@channel-layers/redis";

const [url, prefix, channel] = process.argv.slice(2) as [string, string, string];
const layer = new RedisChannelLayer({ hosts: [url], prefix });
for (;;) {
  const message = await layer.receive(channel);
  process.stdout.write(`${JSON.stringify(message)}\n`);
}
