-- Drop from Redis the trace points the database now holds, so a long session's trace does not grow in memory.
-- KEYS: 1 the session hash
-- ARGV: 1 trace points written to the database
local base = tonumber(redis.call('HGET', KEYS[1], 'tr_base') or '0')
local written = tonumber(ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 1 and written > base then
  redis.call('LTRIM', KEYS[1] .. ':tr', written - base, -1)
  redis.call('HSET', KEYS[1], 'tr_base', written)
end
return 1
