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

/**
 * `now_ms()`: the Redis server's clock in ms, so deadlines and ages do not depend on the skew
 * between the machines of the layer's instances (Redis 7 replicates a script's effects, so TIME is allowed).
 */
export const SERVER_NOW_FUNCTION = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;
