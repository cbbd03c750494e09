-- Takes one slot of a budget, in the API key's log and in the destination's log at once, or
-- in neither, and says how long until one may be free.
--   KEYS[1]  the key's log: a sorted set with one member per slot taken by any destination
--            of the key; score and member are the server time of the slot in microseconds
--   KEYS[2]  the key's cool-down: a hash with "until" (the cool-down's end), "cap" (c0) and
--            "cap_at" (when the learned cap was last cut), times in server microseconds
--   KEYS[3]  the key's fresh mark: a string that exists while a fresh call of the key
--            waits for a slot (doc.go, "Fresh first")
--   KEYS[4]  the destination's fresh mark, likewise for the destination's own windows
--   KEYS[5]  the destination's log, like KEYS[1]; absent when the destination has no limit
--   ARGV[1]  the margin in microseconds, added to every window
--   ARGV[2]  the learned cap's window in microseconds
--   ARGV[3]  the fresh grace in microseconds
--   ARGV[4]  1 for a backfill call, 0 for a fresh one
--   ARGV[5]  k: how many of the limits that follow are the key's; the others are the
--            destination's
--   ARGV[6+2i], ARGV[7+2i]  the count and the window in microseconds of limit i
-- Returns 0 when a slot was taken, else the microseconds until one may be free (nothing is
-- written then, but a fresh call's fresh marks). Numbers stay integers below 2^53, so they
-- are exact in Lua and reach Redis as integer text.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local keyLog, cooldown, keyFresh, destFresh, destLog = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
-- Scores only grow, even when the server clock steps back: the newest slot of each log
-- stays last, and the slot taken now is a new member of both.
for _, log in ipairs({keyLog, destLog}) do
  local newest = redis.call('ZRANGE', log, -1, -1, 'WITHSCORES')
  if newest[2] then
    now = math.max(now, tonumber(newest[2]) + 1)
  end
end
local margin, capWindow, grace, backfill, k = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == '1', tonumber(ARGV[5])

-- untilFree is how long until a window of span ending now in log has room for one more of
-- count slots: it is full when its count-th newest slot lies in it (scored above
-- now - span), and has room once that slot leaves. 0 or less: there is room.
local function untilFree(log, count, span)
  local nth = redis.call('ZRANGE', log, -count, -count, 'WITHSCORES')
  if nth[2] then
    return tonumber(nth[2]) + span - now
  end
  return 0
end

local state = redis.call('HMGET', cooldown, 'until', 'cap', 'cap_at')
-- keyWait binds through the key (cool-down, learned cap, key windows), destWait through
-- the destination's own windows.
local keyWait, destWait = (tonumber(state[1]) or 0) - now, 0

-- The learned cap (doc.go, "Learned cap"): c0 at its last cut cap_at, worth
-- floor(c0 * (8 + 2^x) / 9) slots per capWindow + margin x windows later; void from 24
-- windows on (it is then above Unlimited).
local c0, capAt = tonumber(state[2]), tonumber(state[3])
local keyLongest = capWindow + margin
if c0 and capAt and now - capAt < 24 * capWindow then
  local cap = math.floor(c0 * (8 + 2 ^ (math.max(now - capAt, 0) / capWindow)) / 9)
  local leaves = untilFree(keyLog, cap, keyLongest)
  if leaves > 0 then
    -- Room comes when the oldest slot leaves or when the cap grows to cap + 1, the
    -- earlier of the two.
    local grows = capAt + math.ceil(capWindow * math.log(9 * (cap + 1) / c0 - 8) / math.log(2)) - now
    keyWait = math.max(keyWait, math.min(leaves, math.max(grows, 1)))
  end
end

local destLongest = 0
for i = 6, #ARGV, 2 do
  local count, span = tonumber(ARGV[i]), tonumber(ARGV[i + 1]) + margin
  if (i - 6) / 2 < k then
    keyLongest = math.max(keyLongest, span)
    keyWait = math.max(keyWait, untilFree(keyLog, count, span))
  else
    destLongest = math.max(destLongest, span)
    destWait = math.max(destWait, untilFree(destLog, count, span))
  end
end
local wait = math.max(keyWait, destWait)

if backfill then
  -- A backfill call waits while a fresh call of its key or destination waits for a slot.
  for _, mark in ipairs({keyFresh, destFresh}) do
    wait = math.max(wait, redis.call('PTTL', mark) * 1000)
  end
else
  -- A refused fresh call marks what refused it, for its wait plus the grace: the slots
  -- that free meanwhile are left to the fresh calls that wait. Marks only grow.
  for _, m in ipairs({{keyFresh, keyWait}, {destFresh, destWait}}) do
    local ms = math.ceil((m[2] + grace) / 1000)
    if m[2] > 0 and redis.call('PTTL', m[1]) < ms then
      redis.call('SET', m[1], 1, 'PX', ms)
    end
  end
end
if wait > 0 then
  return wait
end

-- take records the slot in log, which keeps the slots of its longest window.
local function take(log, longest)
  redis.call('ZREMRANGEBYSCORE', log, '-inf', now - longest)
  redis.call('ZADD', log, now, now)
  redis.call('PEXPIRE', log, math.ceil(longest / 1000))
end
take(keyLog, keyLongest)
if destLog then
  take(destLog, destLongest)
end
return 0
