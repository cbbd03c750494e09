-- Applies a batch of operations in order, each atomically: for each, finds one reference
-- in the ledger, classifies what it found for the caller, and applies the caller's action
-- for that case. Time is the Redis server's clock, read once for the batch.
--
-- ARGV: 1 epoch length (ms), 2 retention (ms), 3 lease (ms), then six per operation:
--       the epoch of its first key, its number of keys, the field (the reference), the
--       owner, its actions: one letter per found state (below), R reserve for owner,
--       C confirm, U mark unknown, D delete, - nothing; and "1" when its keys are only the
--       recent epochs (a partial span), else "0".
-- KEYS: each operation's keys in turn: the reference's bucket in consecutive epochs,
--       newest first (its i-th key is epoch first - i + 1). On a Redis Cluster a call's
--       keys share one hash slot.
-- Entry values: "" confirmed; "<lease end ms>:<owner>" reserved, where an empty owner
-- marks an unknown outcome.
-- Returns two numbers per operation, {state, ms}: state 1 absent, 2 confirmed, 3 reserved
-- by owner (whatever its lease), 4 held by another owner (ms: lease left), 5 unknown
-- outcome (an expired reservation that is not owner's). {0, current epoch} when its keys
-- do not span the server's current epoch and every retained one (clock skew). {6, 0}
-- when a partial span neither holds the reference nor reaches every retained epoch: the
-- caller asks again with every epoch's key. Nothing is written then.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local epochMs = tonumber(ARGV[1])
local retention = tonumber(ARGV[2])
local lease = tonumber(ARGV[3])
local current = math.floor(now / epochMs)
-- The oldest epoch whose entries are within the retention; older ones are forgotten,
-- even if their key still lives.
local oldest = math.floor((now - retention) / epochMs)
local expireAt = (current + 1) * epochMs + retention

local out = {}
local base = 0 -- KEYS[base + i] is the current operation's i-th key
for a = 4, #ARGV, 6 do
  local first, n = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local field, owner, actions = ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local partial = ARGV[a + 5] == '1'
  local w = first - current + 1
  local last = first - oldest + 1
  -- inSpan: the server's current epoch is among the keys; complete: so is every
  -- retained one.
  local inSpan = w >= 1 and w <= n
  local complete = inSpan and last <= n
  local at, value = 0, false
  if complete or (inSpan and partial) then
    for i = 1, math.min(last, n) do
      value = redis.call('HGET', KEYS[base + i], field)
      if value then
        at = i
        break
      end
    end
  end
  if partial and at == 0 and not complete then
    out[#out + 1] = 6
    out[#out + 1] = 0
  elseif not inSpan or not (complete or partial) then
    out[#out + 1] = 0
    out[#out + 1] = current
  else

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

    -- A write moves the entry to the current epoch, whose key expires retention after
    -- the epoch ends. An entry already there was written with its key's expiry, which
    -- every write of a new entry sets again.
    local action, put = string.sub(actions, state, state), false
    if action == 'R' then
      put = (now + lease) .. ':' .. owner
    elseif action == 'C' then
      put = ''
    elseif action == 'U' then
      put = now .. ':'
    elseif action == 'D' then
      redis.call('HDEL', KEYS[base + at], field)
    end
    if put then
      if at ~= 0 and at ~= w then
        redis.call('HDEL', KEYS[base + at], field)
      end
      redis.call('HSET', KEYS[base + w], field, put)
      if at ~= w then
        redis.call('PEXPIREAT', KEYS[base + w], expireAt)
      end
    end
    out[#out + 1] = state
    out[#out + 1] = left
  end
  base = base + n
end
return out
