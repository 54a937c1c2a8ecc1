-- Record who opened a playback behind one address or on one device, and return everyone seen there recently.
-- Every key is declared and shares one hash tag (trk:{a:<address>}:… or trk:{d:<device>}:…), so the script stays
-- in one cluster slot; it runs when a playback opens, never per heartbeat.
-- KEYS: 1 members (sorted set: uid → last open ms), 2 what each member opened last (hash: uid → JSON)
-- ARGV: 1 now|'', 2 uid, 3 the opener's JSON, 4 window ms
local now
if ARGV[1] ~= '' then
  now = math.floor(tonumber(ARGV[1]))
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local window = tonumber(ARGV[4])
local cutoff = string.format('%d', now - window)
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. cutoff)) do
  redis.call('HDEL', KEYS[2], gone)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. cutoff)
redis.call('ZADD', KEYS[1], string.format('%d', now), ARGV[2])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], string.format('%d', window))
redis.call('PEXPIRE', KEYS[2], string.format('%d', window))
local out = {}
for _, uid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  out[#out + 1] = redis.call('HGET', KEYS[2], uid) or ''
end
return out
