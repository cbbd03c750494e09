-- Starts or extends an API key's cool-down, never shortening one; on a 429 without
-- Retry-After also records the refusal, takes the next exponential step and learns the
-- key's cap.
--   KEYS[1]  the key's cool-down: a hash with "until" (its end), "strikes" (how many
--            exponential steps since the last success or quiet period), "cap" (c0) and
--            "cap_at" (when the learned cap was last cut), times in server microseconds
--   KEYS[2]  the key's log (read only): the slots the key took, scored in microseconds
--   KEYS[3]  the key's refusals: a sorted set with one member per 429 without Retry-After,
--            score and member its server time in microseconds
--   ARGV[1]  the length in microseconds, or 0 for a 429 without Retry-After
--   ARGV[2]  the first exponential step in microseconds
--   ARGV[3]  the longest step in microseconds; also how long after a cool-down ends its
--            strikes are remembered when no success clears them
--   ARGV[4]  the learned cap's window in microseconds
--   ARGV[5]  the margin in microseconds
-- Returns the microseconds until the cool-down ends.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local state = redis.call('HMGET', KEYS[1], 'until', 'strikes', 'cap', 'cap_at')
local ends = tonumber(state[1]) or 0
local length, base, longest = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local capWindow, margin = tonumber(ARGV[4]), tonumber(ARGV[5])
local span = capWindow + margin
local c0, capAt = tonumber(state[3]), tonumber(state[4])
if not (c0 and capAt and now - capAt < 24 * capWindow) then
  c0, capAt = nil, nil -- no cap in force: it is void 24 windows after its last cut
end

if length == 0 then
  -- Every refusal counts, also those that answer calls taken before the cool-down began.
  -- Stamps only grow, so that refusals in one microsecond stay distinct.
  local stamp = now
  local newest = redis.call('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')
  if newest[2] then
    stamp = math.max(stamp, tonumber(newest[2]) + 1)
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', stamp - span)
  redis.call('ZADD', KEYS[3], stamp, stamp)
  redis.call('PEXPIRE', KEYS[3], math.ceil(span / 1000))
  if ends > now then
    -- This 429 answers a call taken before the cool-down began: it is no new event.
    return ends - now
  end

  local strikes = 0
  if now < ends + longest then
    strikes = tonumber(state[2]) or 0
  end
  length = math.min(base * 2 ^ strikes, longest)
  redis.call('HSET', KEYS[1], 'strikes', strikes + 1)

  -- Learned cap (doc.go, "Learned cap"). In the window (now - span, now], which starts
  -- at now - span + 1 as times are whole microseconds: n slots, r refusals among them,
  -- so about n - r calls that Trustpilot accepted.
  local n = redis.call('ZCOUNT', KEYS[2], now - span + 1, '+inf')
  local r = redis.call('ZCOUNT', KEYS[3], now - span + 1, '+inf')
  local accepted = math.max(n - r, 1)
  -- Throttled persistently: at least 3 refusals in the window, and they are 5% of the
  -- key's calls or this is the third 429 in a row with no success in between; and at
  -- least 20 calls in the window, so that what Trustpilot accepted says something about
  -- its limit (with fewer, the cool-downs alone hold the key back, and a success
  -- restores it at once).
  if n >= 20 and r >= 3 and (r * 20 >= n or strikes >= 2) then
    -- A cap is not cut again before it has regained its last cut (one window), unless no
    -- success came since the last 429: until then, 429s that successes separate answer
    -- the excess that the last cut already removed.
    if not c0 or strikes > 0 or now - capAt >= capWindow then
      -- The key's real limit is about what Trustpilot accepted.
      c0, capAt = math.max(1, math.floor(accepted * 9 / 10)), now
      redis.call('HSET', KEYS[1], 'cap', c0, 'cap_at', capAt)
    end
  end
end
if now + length > ends then
  ends = now + length
  redis.call('HSET', KEYS[1], 'until', ends)
end
-- The hash lives while something in it matters: the strikes until longest after the
-- cool-down ends, the cap until it is void.
local ttl = ends - now + longest
if capAt then
  ttl = math.max(ttl, capAt + 24 * capWindow - now)
end
redis.call('PEXPIRE', KEYS[1], math.ceil(ttl / 1000))
return ends - now
