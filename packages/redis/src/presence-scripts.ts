import { LuaScript, SERVER_NOW_FUNCTION } from "./lua-script.js";

// Presence on one shard: a hash per group (`<presence prefix><group>`: ref -> entry) and one
// sorted set of deadlines (`<presence prefix>$deadlines`: `<group> <ref>` scored by the time in
// ms, on the server's clock, after which the entry has lapsed). Whoever removes a member from the
// deadlines (a ZREM that returned 1, inside a script) removed the entry, so each leave is sent
// once. Both keys outlive the last deadline they hold by one more timeout, so the sweep, not the
// key's expiry, removes a lapsed entry while any instance is alive; when none is, they go.
// Scripts derive the hash keys from the presence prefix: on Cluster it carries the hash tag that
// puts every presence key of the layer in one slot.

const EXTEND_FUNCTION = `
local function extend(key, ms)
  if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, ms) end
end
`;

/**
 * Tracks one entry, replacing the one tracked before under the same group, channel and key
 * (ARGV[5], "" for none). Returns 0 when that one was already gone (a sweep's ZREM had it and sent
 * its leave), else 1. KEYS: deadlines, the group's hash. ARGV: ttl ms, group, ref, entry, replaced ref.
 */
export const PRESENCE_TRACK = new LuaScript(
  "presence-track",
  `${SERVER_NOW_FUNCTION}${EXTEND_FUNCTION}
local deadlines, entries = KEYS[1], KEYS[2]
local ttl, group, ref, replaced = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[5]
local replaced_was_there = 1
if replaced ~= '' then
  replaced_was_there = redis.call('ZREM', deadlines, group .. ' ' .. replaced)
  redis.call('HDEL', entries, replaced)
end
redis.call('HSET', entries, ref, ARGV[4])
redis.call('ZADD', deadlines, now_ms() + ttl, group .. ' ' .. ref)
extend(entries, 2 * ttl)
extend(deadlines, 2 * ttl)
return replaced_was_there
`,
);

/**
 * Removes entries; returns the (1-based) positions of those this call removed. KEYS: deadlines.
 * ARGV: presence prefix, then group and ref of each entry.
 */
export const PRESENCE_UNTRACK = new LuaScript(
  "presence-untrack",
  `
local prefix, removed = ARGV[1], {}
for i = 2, #ARGV, 2 do
  local group, ref = ARGV[i], ARGV[i + 1]
  if redis.call('ZREM', KEYS[1], group .. ' ' .. ref) == 1 then removed[#removed + 1] = i / 2 end
  redis.call('HDEL', prefix .. group, ref)
end
return removed
`,
);

/**
 * The heartbeat: moves the deadline of each entry still there to ttl ms from now and never
 * re-creates one; returns the (1-based) positions of those that are gone. KEYS: deadlines.
 * ARGV: presence prefix, ttl ms, then group and ref of each entry.
 */
export const PRESENCE_REFRESH = new LuaScript(
  "presence-refresh",
  `${SERVER_NOW_FUNCTION}${EXTEND_FUNCTION}
local prefix, ttl = ARGV[1], tonumber(ARGV[2])
local deadline, gone, extended = now_ms() + ttl, {}, {}
for i = 3, #ARGV, 2 do
  local group, member = ARGV[i], ARGV[i] .. ' ' .. ARGV[i + 1]
  if redis.call('ZSCORE', KEYS[1], member) then
    redis.call('ZADD', KEYS[1], 'XX', deadline, member)
    if not extended[group] then
      extended[group] = true
      extend(prefix .. group, 2 * ttl)
    end
  else
    gone[#gone + 1] = (i - 1) / 2
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then extend(KEYS[1], 2 * ttl) end
return gone
`,
);

/**
 * Removes up to ARGV[2] lapsed entries of any instance. Returns how many lapsed members it found
 * (the limit: call again), then group, ref and entry of each it removed. KEYS: deadlines. ARGV:
 * presence prefix, limit.
 */
export const PRESENCE_SWEEP = new LuaScript(
  "presence-sweep",
  `${SERVER_NOW_FUNCTION}
local prefix = ARGV[1]
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms(), 'LIMIT', 0, tonumber(ARGV[2]))
local removed = {#due}
for _, member in ipairs(due) do
  redis.call('ZREM', KEYS[1], member)
  local space = string.find(member, ' ', 1, true)
  local group, ref = string.sub(member, 1, space - 1), string.sub(member, space + 1)
  local entry = redis.call('HGET', prefix .. group, ref)
  if entry then
    redis.call('HDEL', prefix .. group, ref)
    removed[#removed + 1] = group
    removed[#removed + 1] = ref
    removed[#removed + 1] = entry
  end
end
return removed
`,
);
