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
--            and does not share the key
--   KEYS[6]  present when the destination shares the key with others (doc.go, "Fair
--            shares"): the key's waiting destinations, a sorted set of their logs' names
--            scored by the end of their wait plus the grace, in server microseconds
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
local keyLog, cooldown, keyFresh, destFresh, destLog, waiting = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
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
-- keyWindows are the key's windows in force, {count, span}: the fair shares' base.
local keyWindows = {}
if c0 and capAt and now - capAt < 24 * capWindow then
  local cap = math.floor(c0 * (8 + 2 ^ (math.max(now - capAt, 0) / capWindow)) / 9)
  keyWindows[1] = {cap, keyLongest}
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
    keyWindows[#keyWindows + 1] = {count, span}
  else
    destLongest = math.max(destLongest, span)
    destWait = math.max(destWait, untilFree(destLog, count, span))
  end
end
local wait = math.max(keyWait, destWait)

if waiting then
  -- Fair shares (doc.go): a fresh call refused by the key, whose own windows would let it
  -- take the key's next slot, marks its destination waiting for its wait plus the grace
  -- (marks only grow). While other destinations of the key are marked, a call takes at
  -- most its share of each key window, the window's count divided among the
  -- destinations marked and itself, and is told to wait until its slots fall below the
  -- share or the others' marks end, whichever comes first.
  redis.call('ZREMRANGEBYSCORE', waiting, '-inf', now)
  if keyWait > 0 then
    if not backfill and destWait <= keyWait then
      local ends = now + keyWait + grace
      if (tonumber(redis.call('ZSCORE', waiting, destLog)) or 0) < ends then
        redis.call('ZADD', waiting, ends, destLog)
      end
      redis.call('PEXPIREAT', waiting, math.ceil(tonumber(redis.call('ZRANGE', waiting, -1, -1, 'WITHSCORES')[2]) / 1000))
    end
  else
    local marks = redis.call('ZRANGE', waiting, 0, -1, 'WITHSCORES')
    local others, firstEnd = 0, nil
    for j = 1, #marks, 2 do
      if marks[j] ~= destLog then
        others = others + 1
        firstEnd = math.min(firstEnd or math.huge, tonumber(marks[j + 1]))
      end
    end
    if others > 0 then
      local fairWait = 0
      for _, w in ipairs(keyWindows) do
        fairWait = math.max(fairWait, untilFree(destLog, math.ceil(w[1] / (others + 1)), w[2]))
      end
      if fairWait > 0 then
        wait = math.max(wait, math.min(fairWait, firstEnd - now))
      end
    end
  end
end

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
if waiting then
  -- A sharing destination's log counts its slots in the key's windows too.
  take(destLog, math.max(destLongest, keyLongest))
elseif destLog then
  take(destLog, destLongest)
end
return 0
