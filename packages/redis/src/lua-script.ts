import { createHash } from "node:crypto";
import type { RedisClient } from "./shards.js";

/** A Lua script run by EVALSHA, loaded with EVAL the first time a server does not know it. */
export class LuaScript {
  readonly sha: string;

  constructor(
    readonly name: string,
    readonly source: string,
  ) {
    this.sha = createHash("sha1").update(source).digest("hex");
  }

  /** Runs the script; the reply as Redis gave it, strings as Buffers. */
  run(
    client: RedisClient,
    keys: readonly (string | Buffer)[],
    args: readonly (string | Buffer | number)[],
  ): Promise<unknown> {
    return client.callBuffer("EVALSHA", this.sha, keys.length, ...keys, ...args).catch((error: Error) => {
      if (!error.message.startsWith("NOSCRIPT")) throw error;
      return client.callBuffer("EVAL", this.source, keys.length, ...keys, ...args);
    });
  }
}
