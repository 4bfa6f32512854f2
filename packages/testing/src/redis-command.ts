import { connect } from "node:net";

/** A Redis reply: a simple or bulk string, an integer, nil, an array, or an error reply. */
export type RedisReply = string | number | null | Error | RedisReply[];

interface Parsed {
  value: RedisReply;
  next: number;
}

/** Parses one RESP2 reply at `offset`; undefined while the buffer holds only part of it. */
function parseReply(buffer: Buffer, offset: number): Parsed | undefined {
  const lineEnd = buffer.indexOf("\r\n", offset);
  if (lineEnd < 0) return undefined;
  const kind = String.fromCharCode(buffer[offset] ?? 0);
  const line = buffer.toString("utf8", offset + 1, lineEnd);
  const afterLine = lineEnd + 2;
  if (kind === "+") return { value: line, next: afterLine };
  if (kind === "-") return { value: new Error(line), next: afterLine };
  if (kind === ":") return { value: Number(line), next: afterLine };
  if (kind === "$") {
    const length = Number(line);
    if (length < 0) return { value: null, next: afterLine };
    if (buffer.length < afterLine + length + 2) return undefined;
    return { value: buffer.toString("utf8", afterLine, afterLine + length), next: afterLine + length + 2 };
  }
  if (kind === "*") {
    const count = Number(line);
    if (count < 0) return { value: null, next: afterLine };
    const items: RedisReply[] = [];
    let next = afterLine;
    for (let i = 0; i < count; i++) {
      const item = parseReply(buffer, next);
      if (!item) return undefined;
      items.push(item.value);
      next = item.next;
    }
    return { value: items, next };
  }
  throw new Error(`Not a Redis reply: ${JSON.stringify(buffer.toString("latin1", offset, lineEnd))}`);
}

function encodeCommand(args: readonly string[]): Buffer {
  const parts = [`*${args.length}\r\n`];
  for (const arg of args) parts.push(`$${Buffer.byteLength(arg)}\r\n${arg}\r\n`);
  return Buffer.from(parts.join(""));
}

/**
 * Sends one command to the Redis (or Sentinel) on `host:port` over a fresh connection and resolves
 * its reply; an error reply resolves as an Error value. Lets this package check and steer the
 * servers it starts without a Redis client library.
 */
export function redisCommand(
  port: number,
  args: readonly string[],
  { host = "127.0.0.1", timeoutMs = 5000 }: { host?: string; timeoutMs?: number } = {},
): Promise<RedisReply> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host });
    let received = Buffer.alloc(0);
    const fail = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    socket.setTimeout(timeoutMs, () => fail(new Error(`No reply from Redis on ${host}:${port} to ${args[0]}`)));
    socket.once("error", fail);
    socket.once("close", () => fail(new Error(`Redis on ${host}:${port} closed the connection`)));
    socket.once("connect", () => socket.write(encodeCommand(args)));
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      try {
        const parsed = parseReply(received, 0);
        if (!parsed) return;
        socket.removeAllListeners("close");
        socket.destroy();
        resolve(parsed.value);
      } catch (error) {
        fail(error as Error);
      }
    });
  });
}

/** `INFO <section>` (or a Sentinel's) as a map of its `key:value` lines. */
export async function redisInfo(port: number, section: string, host = "127.0.0.1"): Promise<Map<string, string>> {
  const reply = await redisCommand(port, ["INFO", section], { host });
  if (typeof reply !== "string") throw new Error(`INFO ${section} on ${host}:${port} answered ${String(reply)}`);
  const fields = new Map<string, string>();
  for (const line of reply.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}
