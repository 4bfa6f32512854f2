import { LuaScript, SERVER_NOW_FUNCTION } from "./lua-script.js";

// A group's history is a stream (`prefix:history:<group>`) on the group's shard, whose entry ids
// are the offsets: Redis makes them strictly increasing per stream, from its own clock, so an id
// is not issued again after the stream is deleted (a flush, an expiry, a restart). Each entry
// holds the message (field `m`, as the sender encoded it, without __group__ and __offset__) and
// the id of the entry before it (field `p`, "" for the first), so a reader can tell whether
// anything between an offset and the first entry it still has is gone.

/**
 * `append_history(stream, payload, maxLength, maxAgeMs, ttlMs)`: adds an entry, trims the stream to
 * the rule (MAXLEN exactly, then MINID by the server's clock), pushes its expiry to `ttlMs` and
 * returns the new entry's id. The newest entry is never trimmed, so `p` can always be read.
 */
export const APPEND_HISTORY_FUNCTION = `${SERVER_NOW_FUNCTION}
local function append_history(stream, payload, maxLength, maxAgeMs, ttl)
  local last = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
  local prev = last[1] and last[1][1] or ''
  local id = redis.call('XADD', stream, 'MAXLEN', maxLength, '*', 'm', payload, 'p', prev)
  if maxAgeMs ~= '' then
    redis.call('XTRIM', stream, 'MINID', string.format('%.0f', now_ms() - tonumber(maxAgeMs)) .. '-0')
  end
  redis.call('PEXPIRE', stream, ttl)
  return id
end
`;

/**
 * groupSend to a history group where the members are written in a second step (a ring, Cluster,
 * encryption, capacity rules): drops lapsed members, appends the message to the group's history
 * and returns its offset, then the members. KEYS: group, history stream (one slot). ARGV: group
 * cutoff (seconds), payload, maxLength, maxAgeMs ("" for none), the stream's ttl (ms).
 */
export const HISTORY_APPEND = new LuaScript(
  "history-append",
  `${APPEND_HISTORY_FUNCTION}
local offset = append_history(KEYS[2], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local reply = redis.call('ZRANGE', KEYS[1], 0, -1)
table.insert(reply, 1, offset)
return reply
`,
);

/**
 * groupHistory: the entries after ARGV[1] (an id, or "" when the caller's offset is not one of
 * this stream's ids), none older than ARGV[2] ms ("" for no age limit) by the server's clock.
 * Complete when the first entry returned follows that id directly, or when nothing follows it and
 * it is the newest id. Returns 1 or 0 (complete), then id and payload of each entry, oldest first.
 * KEYS: history stream.
 */
export const HISTORY_READ = new LuaScript(
  "history-read",
  `${SERVER_NOW_FUNCTION}
local stream, after, maxAge = KEYS[1], ARGV[1], ARGV[2]
if redis.call('EXISTS', stream) == 0 then return {0} end
local oldest = -1
if maxAge ~= '' then oldest = now_ms() - tonumber(maxAge) end
local entries = redis.call('XRANGE', stream, after == '' and '-' or '(' .. after, '+')
local reply = {0}
local first = nil
for _, entry in ipairs(entries) do
  local id, fields = entry[1], entry[2]
  if tonumber(string.match(id, '^(%d+)')) >= oldest then
    local payload, prev = '', ''
    for i = 1, #fields, 2 do
      if fields[i] == 'm' then payload = fields[i + 1] elseif fields[i] == 'p' then prev = fields[i + 1] end
    end
    if first == nil then first = prev end
    reply[#reply + 1] = id
    reply[#reply + 1] = payload
  end
end
if after ~= '' then
  if first ~= nil then
    if first == after then reply[1] = 1 end
  else
    local last = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
    if last[1] and last[1][1] == after then reply[1] = 1 end
  end
end
return reply
`,
);
