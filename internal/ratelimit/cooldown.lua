-- Starts or extends an API key's cool-down, never shortening one; on a 429 without
-- Retry-After also takes the next exponential step and learns the key's cap.
--   KEYS[1]  the key's cool-down: a hash with "until" (its end), "strikes" (how many
--            exponential steps since the last success or quiet period), "cap" and "cap_at"
--            (the learned cap and when it was set), times in server microseconds
--   KEYS[2]  the key's log (read only): the slots the key took, scored in microseconds
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
local c0, capAt = tonumber(state[3]), tonumber(state[4])
if length == 0 then
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

  -- Learned cap (doc.go): 9/10 of the slots the key took in the last window, unless the
  -- cap was cut less than a window ago (it has not regained that cut yet) and the window
  -- still holds at least what it was cut to. Slots are whole microseconds, so the window
  -- (now - capWindow - margin, now] starts at now - capWindow - margin + 1.
  local n = redis.call('ZCOUNT', KEYS[2], now - capWindow - margin + 1, '+inf')
  if n > 0 and (not (c0 and capAt) or now - capAt >= capWindow or n < c0) then
    c0, capAt = math.max(1, math.floor(n * 9 / 10)), now
    redis.call('HSET', KEYS[1], 'cap', c0, 'cap_at', capAt)
  end
end
if now + length > ends then
  ends = now + length
  redis.call('HSET', KEYS[1], 'until', ends)
end
-- The hash lives while something in it matters: the strikes until longest after the
-- cool-down ends, the cap until it is void, 24 windows after it was set.
local ttl = ends - now + longest
if c0 and capAt then
  ttl = math.max(ttl, capAt + 24 * capWindow - now)
end
redis.call('PEXPIRE', KEYS[1], math.ceil(ttl / 1000))
return ends - now
