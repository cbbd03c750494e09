-- Finds one reference in the ledger, classifies what it found for the caller, and applies
-- the caller's action for that case, atomically. Time is the Redis server's clock.
--
-- KEYS: the reference's bucket in consecutive epochs, newest first (KEYS[i] is epoch
--       ARGV[1] - i + 1); all in one hash slot.
-- ARGV: 1 epoch of KEYS[1], 2 epoch length (ms), 3 retention (ms), 4 lease (ms),
--       5 field (the reference), 6 owner, 7 actions: one letter per found state (below),
--       R reserve for owner, C confirm, U mark unknown, D delete, - nothing.
-- Entry values: "" confirmed; "<lease end ms>:<owner>" reserved, where an empty owner
-- marks an unknown outcome.
-- Returns {state, ms}: state 1 absent, 2 confirmed, 3 reserved by owner (whatever its
-- lease), 4 held by another owner (ms: lease left), 5 unknown outcome (an expired
-- reservation that is not owner's). {0, current epoch} when the keys do not span the
-- server's current epoch and every retained one (clock skew).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local epochMs = tonumber(ARGV[2])
local retention = tonumber(ARGV[3])
local current = math.floor(now / epochMs)
local w = tonumber(ARGV[1]) - current + 1
-- KEYS[last] is the oldest epoch whose entries are within the retention; older ones are
-- forgotten, even if their key still lives.
local last = tonumber(ARGV[1]) - math.floor((now - retention) / epochMs) + 1
if w < 1 or last > #KEYS then
  return {0, current}
end
local field, owner = ARGV[5], ARGV[6]

local at, value = 0, false
for i = 1, last do
  value = redis.call('HGET', KEYS[i], field)
  if value then
    at = i
    break
  end
end

local state, left = 1, 0
if value == '' then
  state = 2
elseif value then
  local sep = string.find(value, ':', 1, true)
  local leaseEnd = tonumber(string.sub(value, 1, sep - 1))
  if string.sub(value, sep + 1) == owner then
    state = 3
  elseif leaseEnd > now then
    state, left = 4, leaseEnd - now
  else
    state = 5
  end
end

-- put moves the entry to the current epoch, whose key expires retention after the epoch.
local function put(v)
  if at ~= 0 and at ~= w then
    redis.call('HDEL', KEYS[at], field)
  end
  redis.call('HSET', KEYS[w], field, v)
  redis.call('PEXPIREAT', KEYS[w], (current + 1) * epochMs + retention)
end

local action = string.sub(ARGV[7], state, state)
if action == 'R' then
  put((now + tonumber(ARGV[4])) .. ':' .. owner)
elseif action == 'C' then
  put('')
elseif action == 'U' then
  put(now .. ':')
elseif action == 'D' then
  redis.call('HDEL', KEYS[at], field)
end
return {state, left}
