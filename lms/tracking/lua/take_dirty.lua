-- Move the sessions of one bucket changed since the last flush into its set being flushed, and return that set. A
-- set left over by a flush that died half way is flushed again (writes are idempotent), with the new changes.
-- KEYS: 1 the bucket's dirty set, 2 its set being flushed (same hash tag)
-- ARGV: 1 TTL ms of the set being flushed
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('SUNIONSTORE', KEYS[2], KEYS[2], KEYS[1])
  redis.call('DEL', KEYS[1])
  redis.call('PEXPIRE', KEYS[2], ARGV[1])
end
return redis.call('SMEMBERS', KEYS[2])
