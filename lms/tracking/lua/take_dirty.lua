-- Move the sessions changed since the last flush into the set being flushed, and return that set. A set left
-- over by a flush that died half way is flushed again (writes are idempotent), together with the new changes.
-- KEYS: 1 the dirty set, 2 the set being flushed
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('SUNIONSTORE', KEYS[2], KEYS[2], KEYS[1])
  redis.call('DEL', KEYS[1])
end
return redis.call('SMEMBERS', KEYS[2])
