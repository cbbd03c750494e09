-- Takes one slot of a destination's budget, or says how long until one may be free.
--   KEYS[1]  the log: a sorted set with one member per slot taken; score and member are the
--            server time of the slot in microseconds
--   KEYS[2]  the cool-down: a hash whose field "until" is its end in server microseconds
--   ARGV[1]  the margin in microseconds, added to every window
--   ARGV[2i], ARGV[2i+1]  the count and the window in microseconds of limit i
-- Returns 0 when a slot was taken, else the microseconds until one may be free (nothing is
-- written then). Numbers stay integers below 2^53, so they are exact in Lua and reach Redis
-- as integer text.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if newest[2] then
  -- Scores only grow, even when the server clock steps back: the newest slot stays last.
  now = math.max(now, tonumber(newest[2]) + 1)
end
local wait = (tonumber(redis.call('HGET', KEYS[2], 'until')) or 0) - now
local margin = tonumber(ARGV[1])
local longest = 0
for i = 2, #ARGV, 2 do
  local count, span = tonumber(ARGV[i]), tonumber(ARGV[i + 1]) + margin
  longest = math.max(longest, span)
  -- A window of this span ending now holds the slots scored above now - span. It is full
  -- when its count-th newest slot is among them, and has room once that slot leaves.
  local nth = redis.call('ZRANGE', KEYS[1], -count, -count, 'WITHSCORES')
  if nth[2] then
    wait = math.max(wait, tonumber(nth[2]) + span - now)
  end
end
if wait > 0 then
  return wait
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - longest)
redis.call('ZADD', KEYS[1], now, now)
redis.call('PEXPIRE', KEYS[1], math.ceil(longest / 1000))
return 0
