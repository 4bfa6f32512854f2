import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** The Debian python3 that has channels_redis 4 (python3-channels-redis). */
export const PYTHON = "/usr/bin/python3";
const PEER = join(dirname(fileURLToPath(import.meta.url)), "python", "channels_redis_peer.py");

/** Why channels_redis cannot run here, or undefined when it can. */
export function channelsRedisMissing(): string | undefined {
  if (!existsSync(PYTHON)) return `${PYTHON} is not installed`;
  try {
    execFileSync(PYTHON, ["-c", "import channels_redis.core"], { stdio: "ignore" });
    return undefined;
  } catch {
    return "channels_redis is not installed (apt-get install python3-channels-redis)";
  }
}

/** JSON for the peer: bytes as {"$bytes": hex}. */
export function toWire(value: unknown): unknown {
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString("hex") };
  if (Array.isArray(value)) return value.map(toWire);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, toWire(item)]));
  }
  return value;
}

export function fromWire(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromWire);
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value);
    if (entries.length === 1 && entries[0]?.[0] === "$bytes")
      return new Uint8Array(Buffer.from(entries[0][1] as string, "hex"));
    return Object.fromEntries(entries.map(([key, item]) => [key, fromWire(item)]));
  }
  return value;
}

/** A channels_redis layer in a Python process, one JSON command per line. */
export class ChannelsRedisPeer {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly replies: ((line: string) => void)[] = [];
  private stderr = "";

  constructor(url: string, prefix: string, encryptionKeys: readonly string[] = [], layer: "core" | "pubsub" = "core") {
    this.child = spawn(PYTHON, [PEER, url, prefix, ...encryptionKeys], {
      env: { ...process.env, PEER_LAYER: layer },
    });
    this.child.stderr.on("data", (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
    createInterface({ input: this.child.stdout }).on("line", (line) => this.replies.shift()?.(line));
  }

  async request(command: Record<string, unknown>): Promise<Record<string, unknown>> {
    const line = await new Promise<string>((resolve, reject) => {
      const onExit = () => reject(new Error(`channels_redis peer exited:\n${this.stderr}`));
      this.child.once("exit", onExit);
      this.replies.push((reply) => {
        this.child.off("exit", onExit);
        resolve(reply);
      });
      this.child.stdin.write(`${JSON.stringify(command)}\n`);
    });
    const reply = JSON.parse(line) as Record<string, unknown>;
    if (reply.error) throw new Error(`channels_redis peer: ${String(reply.error)}\n${this.stderr}`);
    return reply;
  }

  async newChannel(): Promise<string> {
    return (await this.request({ op: "new_channel" })).channel as string;
  }

  async send(channel: string, message: object): Promise<void> {
    await this.request({ op: "send", channel, message: toWire(message) });
  }

  /** The next message on `channel`, or undefined if none came within `timeoutSeconds`. */
  async receive(channel: string, timeoutSeconds = 5): Promise<unknown> {
    const reply = await this.request({ op: "receive", channel, timeout: timeoutSeconds });
    return reply.timeout ? undefined : fromWire(reply.message);
  }

  async groupAdd(group: string, channel: string): Promise<void> {
    await this.request({ op: "group_add", group, channel });
  }

  async groupSend(group: string, message: object): Promise<void> {
    await this.request({ op: "group_send", group, message: toWire(message) });
  }

  async close(): Promise<void> {
    this.child.stdin.end();
    if (this.child.exitCode === null) await new Promise((resolve) => this.child.once("exit", resolve));
  }
}
