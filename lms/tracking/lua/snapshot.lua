-- Read one session consistently for the flush to the database: its hash, coverage, the person's progress on the
-- courseware, and the events and trace points not yet written.
-- KEYS: 1 the session hash
-- ARGV: 1 prefix, 2 events already written, 3 trace points already written
local sk = KEYS[1]
if redis.call('EXISTS', sk) == 0 then
  return nil
end
local cw = redis.call('HGET', sk, 'cw')
return {
  redis.call('HGETALL', sk),
  redis.call('GET', sk .. ':cov') or '',
  redis.call('LRANGE', sk .. ':ev', tonumber(ARGV[2]), -1),
  -- Trace points already written are trimmed from Redis (trim_trace.lua); tr_base counts them.
  redis.call('LRANGE', sk .. ':tr', math.max(tonumber(ARGV[3]) - tonumber(redis.call('HGET', sk, 'tr_base') or '0'), 0),
    -1),
  redis.call('HGETALL', ARGV[1] .. 'cw:' .. cw),
}
