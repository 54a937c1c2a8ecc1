-- Open a playback, or resume one after a reconnect; the person's previous playback, if any, is superseded.
-- KEYS: 1 the new session hash, 2 the address's account set, 3 the device's account set
-- ARGV: 1 cfg, 2 now|'', 3 uid, 4 prefix, 5 new sid, 6 token, 7 courseware id, 8 duration ms, 9 required watch ms,
--       10 required coverage s, 11 seed furthest ms, 12 seed resume ms, 13 seed watch ms, 14 seed coverage bitmap,
--       15 seed completed 0|1, 16 ip, 17 user agent, 18 device id|'', 19 automation 0|1, 20 resume sid|'', 21 draw ms
CFG = cjson.decode(ARGV[1])
NOW = clock(ARGV[2])
UID = ARGV[3]
P = ARGV[4]
local cw, draw = ARGV[7], ARGV[21]

local opens = P .. 'opens:' .. int(NOW / 60000)
if redis.call('INCR', opens) > CFG.opens_per_min then
  redis.call('PEXPIRE', opens, 120000)
  return cjson.encode({status = 'too_many_opens'})
end
redis.call('PEXPIRE', opens, 120000)

-- The person's progress on this courseware, seeded from the database when Redis no longer has it.
local ck = P .. 'cw:' .. cw
if redis.call('EXISTS', ck) == 0 then
  redis.call('HSET', ck, 'furthest_ms', ARGV[11], 'resume_ms', ARGV[12], 'watch_ms', ARGV[13], 'completed', ARGV[15])
  redis.call('DEL', P .. 'cov:' .. cw)
  if ARGV[14] ~= '' then
    redis.call('SET', P .. 'cov:' .. cw, ARGV[14])
  end
end

local sid, resumed = ARGV[5], false
if ARGV[20] ~= '' then
  local r = redis.call('HMGET', skey(ARGV[20]), 'state', 'cw')
  if (r[1] == 'open' or r[1] == 'superseded') and r[2] == cw then
    sid, resumed = ARGV[20], true
  end
end
local sk = skey(sid)

local concurrent, superseded = nil, nil
local old = redis.call('GET', P .. 'active')
if old and old ~= sid then
  local old_last = num(redis.call('HGET', skey(old), 'last_hb_ms'))
  if end_session(old, 'superseded', 'takeover', sid, draw) then
    superseded = old
    -- The older page was still playing: two playbacks of one person overlapped.
    if NOW - old_last <= CFG.max_gap_ms then
      concurrent = old
      add_event(old, 'concurrent', {other = sid})
    end
  end
end

if resumed then
  -- last_hb_ms and pos_ms stay: the next heartbeat is judged against the last accepted one (gap rule).
  redis.call('HSET', sk, 'state', 'open', 'token', ARGV[6], 'end_reason', '', 'ended_ms', '', 'superseded_by', '')
  add_event(sid, 'resumed', {})
else
  local resume = num(redis.call('HGET', ck, 'resume_ms'))
  redis.call('HSET', sk, 'uid', UID, 'cw', cw, 'dur_ms', ARGV[8], 'req_watch_ms', ARGV[9], 'req_cov_s', ARGV[10],
    'state', 'open', 'token', ARGV[6], 'started_ms', int(NOW), 'last_hb_ms', int(NOW), 'pos_ms', int(resume),
    'playing', '0', 'credited_ms', '0', 'prov_ms', '0', 'voided_ms', '0', 'furthest_ms', '0', 'drift_ms', '0',
    'hb_n', '0', 'tr_n', '0', 'risk', '0', 'held', '0', 'ip', ARGV[16], 'ua', ARGV[17], 'dev', ARGV[18])
  add_event(sid, 'opened', {resume_ms = resume})
end
if concurrent then
  add_event(sid, 'concurrent', {other = concurrent})
end
if ARGV[19] == '1' and redis.call('HSETNX', sk, 'auto_flag', '1') == 1 then
  add_event(sid, 'automation', {source = 'user_agent'})
end

redis.call('SET', P .. 'active', sid)
redis.call('HSETNX', P .. 'chk', 'left_ms', draw)

-- Several accounts studying from one address or one device within the window.
local function shared(key, member_limit, etype, what)
  redis.call('ZADD', key, NOW, UID)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', NOW - CFG.addr_window_ms)
  redis.call('PEXPIRE', key, CFG.addr_window_ms)
  local n = redis.call('ZCARD', key)
  if n > member_limit then
    add_event(sid, etype, {accounts = n, [what] = ARGV[what == 'ip' and 16 or 18]})
  end
end
if ARGV[16] ~= '' then
  shared(KEYS[2], CFG.addr_max_accounts, 'shared_address', 'ip')
end
if ARGV[18] ~= '' then
  shared(KEYS[3], CFG.device_max_accounts, 'shared_device', 'device')
end

touch(sid)
redis.call('ZADD', 'trk:live', NOW, UID .. ':' .. sid)
expire_session(sid, CFG.session_ttl_ms)
expire_person(cw)

local out = totals(sid)
out.status, out.sid, out.token, out.resumed, out.check = 'ok', sid, ARGV[6], resumed, check_view(sid)
out.superseded = superseded
return cjson.encode(out)
