-- Saves a partition's snapshot unless a later generation saved it.
--   KEYS[1]  the record: a hash with "gen", "from" and "done"
--   ARGV[1]  the saver's generation; ARGV[2] the first offset; ARGV[3] the bitmap;
--   ARGV[4]  the record's time to live in milliseconds
-- Returns 1 when saved, 0 when fenced.
local gen = tonumber(redis.call('HGET', KEYS[1], 'gen'))
if gen and gen > tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'gen', ARGV[1], 'from', ARGV[2], 'done', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
