-- After the database committed a session: drop the trace points it now holds, and let a closed session that is
-- decided expire soon. Decided: nothing of it waits for an attention check (no provisional time in the person's
-- pool, no check pending on it) and nothing changed since the snapshot that was written (same version).
-- KEYS: 1 the session hash, 2 :ev, 3 :tr, 4 :cov, 5 :pcov, 6 the person's chk, 7 the person's pool
-- ARGV: 1 trace points written, 2 version written, 3 TTL ms of a decided closed session, 4 of a superseded one
local sk = KEYS[1]
if redis.call('EXISTS', sk) == 0 then
  return 0
end
local base = tonumber(redis.call('HGET', sk, 'tr_base') or '0')
local written = tonumber(ARGV[1])
if written > base then
  redis.call('LTRIM', KEYS[3], written - base, -1)
  redis.call('HSET', sk, 'tr_base', written)
end
local h = redis.call('HMGET', sk, 'state', 'v', 'prov_ms')
local sid = string.sub(sk, string.find(sk, '}:s:', 1, true) + 4)
local chk = redis.call('HMGET', KEYS[6], 'pending', 'sid')
local ttl = h[1] == 'closed' and ARGV[3] or (h[1] == 'superseded' and ARGV[4] or nil)
if ttl == nil or h[2] ~= ARGV[2] or tonumber(h[3] or '0') > 0 or redis.call('HEXISTS', KEYS[7], sid) == 1
    or ((chk[1] or '') ~= '' and chk[2] == sid) then
  return 0
end
-- LT: never lengthen a TTL (a key already expiring sooner stays so).
for i = 1, 5 do
  redis.call('PEXPIRE', KEYS[i], ttl, 'LT')
end
return 1
