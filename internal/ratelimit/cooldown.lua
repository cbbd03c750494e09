-- Starts or extends a destination's cool-down; never shortens one.
--   KEYS[1]  the cool-down: a hash with "until" (its end in server microseconds) and
--            "strikes" (how many exponential steps it has taken since the last quiet period)
--   ARGV[1]  the length in microseconds, or 0 for the next exponential step
--   ARGV[2]  the first exponential step in microseconds
--   ARGV[3]  the longest step in microseconds; also how long after a cool-down ends its
--            strikes are remembered
-- Returns the microseconds until the cool-down ends.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local ends = tonumber(redis.call('HGET', KEYS[1], 'until')) or 0
local length, base, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if length == 0 then
  if ends > now then
    -- This 429 answers a call taken before the cool-down began: it is no new strike.
    return ends - now
  end
  local strikes = 0
  if now < ends + cap then
    strikes = tonumber(redis.call('HGET', KEYS[1], 'strikes')) or 0
  end
  length = math.min(base * 2 ^ strikes, cap)
  redis.call('HSET', KEYS[1], 'strikes', strikes + 1)
end
if now + length > ends then
  ends = now + length
  redis.call('HSET', KEYS[1], 'until', ends)
end
redis.call('PEXPIRE', KEYS[1], math.ceil((ends - now + cap) / 1000))
return ends - now
