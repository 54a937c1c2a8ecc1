-- Read one session consistently for the flush to the database: its hash, coverage, the person's progress on the
-- courseware, and the events and trace points not yet written.
-- KEYS: 1 the session hash, 2 its :cov, 3 its :ev, 4 its :tr, 5 the person's cw:<courseware> (store.py read the
-- courseware from the hash first; a session's courseware never changes)
-- ARGV: 1 events already written, 2 trace points already written
local sk = KEYS[1]
if redis.call('EXISTS', sk) == 0 then
  return nil
end
if KEYS[5] ~= string.sub(sk, 1, string.find(sk, '}:', 1, true) + 1) .. 'cw:' .. redis.call('HGET', sk, 'cw') then
  return redis.error_reply('snapshot of ' .. sk .. ' declared the wrong courseware')
end
return {
  redis.call('HGETALL', sk),
  redis.call('GET', KEYS[2]) or '',
  redis.call('LRANGE', KEYS[3], tonumber(ARGV[1]), -1),
  -- Trace points already written are trimmed from Redis (flushed.lua); tr_base counts them.
  redis.call('LRANGE', KEYS[4], math.max(tonumber(ARGV[2]) - tonumber(redis.call('HGET', sk, 'tr_base') or '0'), 0),
    -1),
  redis.call('HGETALL', KEYS[5]),
}
