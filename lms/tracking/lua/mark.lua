-- Mark sessions in one shard bucket (every key shares the bucket's hash tag): changed since the last flush
-- (the dirty set) and open by last activity (the live set), as the judging scripts answered (common.lua MARKS).
-- KEYS: 1 the bucket's dirty set, 2 its live set
-- ARGV: 1 TTL ms of both, 2 n dirty, then n members; n live, then n (score, member); n gone, then n members
local i, n = 3, tonumber(ARGV[2])
for j = i, i + n - 1 do
  redis.call('SADD', KEYS[1], ARGV[j])
end
i = i + n
n = tonumber(ARGV[i])
for j = i + 1, i + 2 * n, 2 do
  redis.call('ZADD', KEYS[2], ARGV[j], ARGV[j + 1])
end
i = i + 2 * n + 1
n = tonumber(ARGV[i])
for j = i + 1, i + n do
  redis.call('ZREM', KEYS[2], ARGV[j])
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return 1
