import { APPEND_HISTORY_FUNCTION } from "./history-scripts.js";
import { LuaScript } from "./lua-script.js";

// Each script below is one round trip; the comment above each says what it guarantees.
//
// Held sets: a process key with a live RedisChannelLayer receiver (its `$receiver` marker is
// set) has one held set, `<process key>$held`, a sorted set whose members (all scored 0) are
// `<local part>|<id>`: the local part is the channel name after its `!`, the id the hex of the
// message's 12-byte prefix, whose first 6 bytes are the send time in ms. So one channel's
// entries are one lexical range, ordered by send time: ZLEXCOUNT counts what the channel holds,
// ZREMRANGEBYLEX drops its expired entries, and '|' sorts after every character a name may have.
// The receiving instance's own reservations sit in the same range as `<local part>|r<8 digits>`
// ('r' sorts after every hex digit, so expiry never trims them): other senders count them as
// held, and the instance hands its own sends to itself, and the group messages GROUP_SEND left
// uncounted for it, without a round trip while it holds more reservations than such messages
// (see RESERVE). A held set is never shortened to a
// message's expiry while it holds reservations (they last RESERVATION_TTL_MS, renewed).

/**
 * Receipts riding along in a script: KEYS[first..] are held sets; ARGV[base..] holds how many
 * members each gets, then the members. One variadic ZREM per held set.
 */
const ACK_FUNCTION = `
local function ack(first, base)
  local sets = #KEYS - first + 1
  local pos = base + sets
  for i = 0, sets - 1 do
    local n = tonumber(ARGV[base + i])
    redis.call('ZREM', KEYS[first + i], unpack(ARGV, pos, pos + n - 1))
    pos = pos + n
  end
end
`;

/** Pushes a key's expiry out to `ms` from now, never bringing it closer. */
const EXTEND_FUNCTION = `
local function extend(key, ms)
  if redis.call('PTTL', key) < tonumber(ms) then redis.call('PEXPIRE', key, ms) end
end
`;

/** Counts a key's members (channels_redis' count), dropping the expired ones first when it holds `bound`. */
const KEY_COUNT_FUNCTION = `
local function key_count(key, bound, cutoff)
  local n = redis.call('ZCARD', key)
  if n >= bound then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', cutoff)
    n = redis.call('ZCARD', key)
  end
  return n
end
`;

/** Counts one channel's entries in a held set, dropping its expired ones first when it looks full. */
const HELD_FUNCTION = `${EXTEND_FUNCTION}
local function held_count(held, channel, cap, cutoff)
  local n = redis.call('ZLEXCOUNT', held, '[' .. channel .. '|', '(' .. channel .. '}')
  if n >= cap then
    redis.call('ZREMRANGEBYLEX', held, '[' .. channel .. '|', '(' .. channel .. '|' .. cutoff)
    n = redis.call('ZLEXCOUNT', held, '[' .. channel .. '|', '(' .. channel .. '}')
  end
  return n
end
`;

/**
 * send: trims, checks capacity, adds and refreshes the expiry atomically. KEYS: target, receiver
 * marker, held set (a named channel passes its own key for all three). With the marker present,
 * capacity is per channel, counted in the held set; otherwise it is channels_redis' count of the
 * whole key. Returns 1, or 0 when full. ARGV: score, cutoff (seconds), cutoff (hex ms), ttl ms,
 * capacity, member, local part, id. Receipts waiting to go out may ride along (saving a round
 * trip): more KEYS (held sets) and their block after ARGV[8].
 */
export const SEND = new LuaScript(
  "send",
  `${ACK_FUNCTION}${HELD_FUNCTION}${KEY_COUNT_FUNCTION}
ack(4, 9)
local target, marker, held = KEYS[1], KEYS[2], KEYS[3]
local cap = tonumber(ARGV[5])
if marker ~= target and redis.call('EXISTS', marker) == 1 then
  if held_count(held, ARGV[7], cap, ARGV[3]) >= cap then return 0 end
  redis.call('ZADD', held, 0, ARGV[7] .. '|' .. ARGV[8])
  extend(held, ARGV[4])
elseif key_count(target, cap, ARGV[2]) >= cap then
  return 0
end
redis.call('ZADD', target, ARGV[1], ARGV[6])
redis.call('PEXPIRE', target, ARGV[4])
return 1
`,
);

/** groupAdd: the membership scored with its time (as channels_redis), and the group's expiry pushed out. */
export const GROUP_ADD = new LuaScript(
  "group-add",
  `
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`,
);

/** The group's members after dropping the lapsed ones (score at or before ARGV[1]). */
export const GROUP_MEMBERS = new LuaScript(
  "group-members",
  `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)
`,
);

/**
 * Writes prepared members, skipping full targets, all on one shard / slot. KEYS: per target its
 * key, receiver marker and held set (as SEND). ARGV: score, cutoff (seconds), cutoff (hex ms),
 * ttl ms, then per target capacity, member, local part, id. Returns how many targets were full.
 */
export const DELIVER_MANY = new LuaScript(
  "deliver-many",
  `${HELD_FUNCTION}${KEY_COUNT_FUNCTION}
local now, cutoff, cutoffHex, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local full = 0
for i = 1, #KEYS, 3 do
  local target, marker, held = KEYS[i], KEYS[i + 1], KEYS[i + 2]
  local a = 5 + (i - 1) / 3 * 4
  local cap = tonumber(ARGV[a])
  local room
  if marker ~= target and redis.call('EXISTS', marker) == 1 then
    room = held_count(held, ARGV[a + 2], cap, cutoffHex) < cap
    if room then
      redis.call('ZADD', held, 0, ARGV[a + 2] .. '|' .. ARGV[a + 3])
      extend(held, ttl)
    end
  else
    room = key_count(target, cap, cutoff) < cap
  end
  if room then
    redis.call('ZADD', target, now, ARGV[a + 1])
    redis.call('PEXPIRE', target, ttl)
  else
    full = full + 1
  end
end
return full
`,
);

/**
 * groupSend on a single Redis without encryption, in one round trip: drops lapsed members, then
 * writes each process key once, with one member whose __asgi_channel__ lists the channels of
 * that key (channels_redis' format), and each named channel once. A process key with a live
 * RedisChannelLayer receiver (its marker is set) takes them all, under an id marked uncounted
 * (bytes 8 and 9 are 0xFF 0xFE, wire-codec.ts): no held entry is written, the receiver counts each
 * channel's copy against its own reservations and skips a full one itself. Any other process key
 * (channels_redis') takes them unless it holds `capacity` members already. The member's
 * msgpack is the sender's body with the key spliced in, so the server never decodes a message.
 * The sender's own channels (their names hold its `.<instance id>!`) are only returned, for the
 * sender to hand over itself within its reservations, in the order of its other sends; when
 * their digest equals the one the sender knows, only the digest comes back (it has the list).
 * Keys are derived as KeySpace does without Cluster. KEYS: group. ARGV: prefix, score, group
 * cutoff, expiry cutoff (seconds), an unused slot, ttl ms, capacity, 8 bytes that start
 * every id (6 of send time in ms, 2 random), body, the sender's `.<instance id>!` (absent: no
 * member is the sender's own), the digest of its own members it knows. Returns how many members
 * were full, the digest of the sender's own members ("" for none), then those members unless the
 * digest was the known one.
 * A history group passes its stream as KEYS[2] and ARGV group, maxLength, maxAgeMs ("" for none)
 * and the stream's ttl (ms): the message is appended (history-scripts.ts) before it is written
 * anywhere, the members get __group__ and __offset__ spliced in too, and the offset comes last in
 * the reply. So offsets follow the order in which members on other instances receive them.
 */
export const GROUP_SEND = new LuaScript(
  "group-send",
  `${APPEND_HISTORY_FUNCTION}${KEY_COUNT_FUNCTION}
local prefix, now, cutoff, ttl = ARGV[1], ARGV[2], ARGV[4], ARGV[6]
local cap, nonce, body, ownTag, knownDigest = tonumber(ARGV[7]), ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local offset = nil
if KEYS[2] then offset = append_history(KEYS[2], body, ARGV[13], ARGV[14], ARGV[15]) end
local function finish(reply)
  if offset then reply[#reply + 1] = offset end
  return reply
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
if #members == 0 then return finish({0, ''}) end

-- msgpack's header of a string of n bytes
local function strHeader(n)
  if n < 32 then return string.char(160 + n) end
  if n < 256 then return '\\217' .. string.char(n) end
  return '\\218' .. struct.pack('>I2', n)
end
local function str(s) return strHeader(#s) .. s end
-- Members are grouped by the part of their name up to '!' (the process key without the prefix),
-- which repeats: whether a part is the sender's own is decided once per part, not per member.
local order, lists, own = {}, {}, {}
local ownPart, tagLength = {}, ownTag and #ownTag or 0
for _, channel in ipairs(members) do
  local bang = string.find(channel, '!', 1, true)
  -- A named channel is its own key (and never the sender's own).
  local part = bang and string.sub(channel, 1, bang) or channel
  local mine = false
  if bang then
    mine = ownPart[part]
    if mine == nil then
      mine = tagLength > 0 and string.sub(part, -tagLength) == ownTag
      ownPart[part] = mine
    end
  end
  if mine then
    own[#own + 1] = channel
  else
    local list = lists[part]
    if not list then
      list = {}
      lists[part] = list
      order[#order + 1] = part
    end
    list[#list + 1] = channel
  end
end
local reply = {0, ''}
if #own > 0 then
  reply[2] = redis.sha1hex(table.concat(own, ' '))
  if reply[2] ~= knownDigest then
    for _, channel in ipairs(own) do reply[#reply + 1] = channel end
  end
end
if #order == 0 then return finish(reply) end

local first, count, skip = string.byte(body, 1), 0, 1
if first >= 128 and first <= 143 then count, skip = first - 128, 1
elseif first == 222 then count, skip = struct.unpack('>I2', body, 2), 3
else count, skip = struct.unpack('>I4', body, 2), 5 end
count = count + (offset and 3 or 1)
local header
if count < 16 then header = string.char(128 + count)
elseif count < 65536 then header = '\\222' .. struct.pack('>I2', count)
else header = '\\223' .. struct.pack('>I4', count) end
local position = offset and (str('__group__') .. str(ARGV[12]) .. str('__offset__') .. str(offset)) or ''
local head = header .. string.sub(body, skip + 1) .. position .. str('__asgi_channel__')
local full = 0
-- A process key whose receiver counts what arrives against its own reservations takes the
-- whole list; only a backlog its receiver has not popped (a stalled process whose marker has not
-- lapsed yet) is bounded, so that Redis does not fill up behind it.
local backlog = math.max(8 * cap, 1024)
for k, part in ipairs(order) do
  local list = lists[part]
  local key = prefix .. part
  local accepted = list
  local bound = cap
  local tail = struct.pack('>I4', k)
  if string.sub(key, -1) == '!' and redis.call('EXISTS', key .. '$receiver') == 1 then
    bound = backlog
    tail = '\\255\\254' .. struct.pack('>I2', k % 65536)
  end
  if key_count(key, bound, cutoff) >= bound then
    full = full + #list
    accepted = {}
  end
  local a = #accepted
  if a > 0 then
    local parts = {}
    if a < 16 then parts[1] = string.char(144 + a)
    elseif a < 65536 then parts[1] = '\\220' .. struct.pack('>I2', a)
    else parts[1] = '\\221' .. struct.pack('>I4', a) end
    -- Each name's header and the name as two parts: table.concat joins them without a string per name.
    for j = 1, a do
      local channel = accepted[j]
      parts[2 * j] = strHeader(#channel)
      parts[2 * j + 1] = channel
    end
    redis.call('ZADD', key, now, nonce .. tail .. head .. table.concat(parts))
    redis.call('PEXPIRE', key, ttl)
  end
end
reply[1] = full
return finish(reply)
`,
);

/**
 * Sets the reservations of this instance's own channels (see the top of this file) to a target,
 * as far as room allows: other senders' unexpired entries and the capacity bound it, so a
 * reservation never lets a channel hold more than its capacity. Growing adds `<local part>|r<n>`
 * entries, shrinking removes the highest. KEYS: held sets. ARGV: cutoff (hex ms), ttl ms, then per
 * channel: its held set's index in KEYS, local part, capacity, target. Returns each channel's
 * reservations now.
 */
export const RESERVE = new LuaScript(
  "reserve",
  `${EXTEND_FUNCTION}
local cutoff, ttl = ARGV[1], ARGV[2]
local granted = {}
for i = 3, #ARGV, 4 do
  local held, channel = KEYS[tonumber(ARGV[i])], ARGV[i + 1]
  local cap, target = tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  local first, reserved, after = '[' .. channel .. '|', channel .. '|r', '(' .. channel .. '|s'
  local current = redis.call('ZLEXCOUNT', held, '[' .. reserved, after)
  local others = redis.call('ZLEXCOUNT', held, first, '(' .. reserved)
  if others + target > cap then
    redis.call('ZREMRANGEBYLEX', held, first, '(' .. channel .. '|' .. cutoff)
    others = redis.call('ZLEXCOUNT', held, first, '(' .. reserved)
  end
  local grant = math.max(0, math.min(target, cap - others))
  if grant > current then
    local adds = {}
    for n = current, grant - 1 do
      adds[#adds + 1] = 0
      adds[#adds + 1] = reserved .. string.format('%08d', n)
    end
    for j = 1, #adds, 4000 do redis.call('ZADD', held, unpack(adds, j, math.min(j + 3999, #adds))) end
  elseif grant < current then
    redis.call('ZREMRANGEBYLEX', held, '[' .. reserved .. string.format('%08d', grant), after)
  end
  if grant > 0 then extend(held, ttl) end
  granted[#granted + 1] = grant
end
return granted
`,
);

/** Receipts: removes received messages from their channels' held sets. KEYS: held sets; ARGV: the block. */
export const ACK = new LuaScript(
  "ack",
  `${ACK_FUNCTION}
ack(1, 1)
return #KEYS
`,
);

/**
 * Drops a held set's expired entries, whatever channel they are for (a channel that stopped
 * receiving without discardChannel leaves some), and keeps a set that still holds entries (its
 * owner's reservations among them) for at least ARGV[2] ms more. KEYS: held set. ARGV: cutoff
 * (hex ms), ms to keep it.
 */
export const SWEEP_HELD = new LuaScript(
  "sweep-held",
  `${EXTEND_FUNCTION}
local expired = {}
for _, entry in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local bar = string.find(entry, '|', 1, true)
  if bar and string.sub(entry, bar + 1, bar + 12) < ARGV[1] then expired[#expired + 1] = entry end
end
for i = 1, #expired, 1000 do
  redis.call('ZREM', KEYS[1], unpack(expired, i, math.min(i + 999, #expired)))
end
if redis.call('EXISTS', KEYS[1]) == 1 then extend(KEYS[1], ARGV[2]) end
return #expired
`,
);

/**
 * flush without Cluster: deletes the keys under the prefix that have this layer's shapes
 * (KeySpace's, histories and presence included, and channels_redis' `$inflight` backups), so
 * that with prefix `asgi` a key `asgi2:other` stays. KEYS: none. ARGV: the prefix's glob, the
 * prefix. Returns how many it deleted.
 */
export const DELETE_LAYER_KEYS = new LuaScript(
  "delete-layer-keys",
  `
local name = '[%w%-_%.]+'
local shapes = {
  '^' .. name .. '$', '^' .. name .. '!$', '^' .. name .. '!?%$inflight$',
  '^' .. name .. '!%$held$', '^' .. name .. '!%$receiver$', '^:group:' .. name .. '$', '^%$wake%.%x+$',
  '^:history:' .. name .. '$', '^:presence:' .. name .. '$', '^:presence:%$deadlines$',
}
local skip = #ARGV[2]
local ours = {}
for _, key in ipairs(redis.call('KEYS', ARGV[1])) do
  local rest = string.sub(key, skip + 1)
  for _, shape in ipairs(shapes) do
    if string.find(rest, shape) then
      ours[#ours + 1] = key
      break
    end
  end
end
for i = 1, #ours, 5000 do
  redis.call('DEL', unpack(ours, i, math.min(i + 4999, #ours)))
end
return #ours
`,
);
