-- Open a playback, or resume one after a reconnect; the person's previous playback, if any, is superseded.
-- KEYS: 1 the new session hash (the evidence across people, by address and device, is peers.lua's)
-- ARGV: 1 now|'', 2 uid, 3 prefix, 4 new sid, 5 token, 6 courseware id, 7 duration ms, 8 required watch ms,
--       9 required coverage s, 10 seed furthest ms, 11 seed resume ms, 12 seed watch ms, 13 seed coverage bitmap,
--       14 seed completed 0|1, 15 ip, 16 user agent, 17 device id|'', 18 automation 0|1, 19 resume sid|'', 20 draw ms
-- settings: CFG
NOW = clock(ARGV[1])
UID = ARGV[2]
P = ARGV[3]
local cw, draw = ARGV[6], ARGV[20]

local opens = P .. 'opens:' .. int(NOW / 60000)
if redis.call('INCR', opens) > CFG.opens_per_min then
  redis.call('PEXPIRE', opens, 120000)
  return cjson.encode({status = 'too_many_opens'})
end
redis.call('PEXPIRE', opens, 120000)

-- The person's progress on this courseware, seeded from the database when Redis no longer has it.
local ck = P .. 'cw:' .. cw
if redis.call('EXISTS', ck) == 0 then
  redis.call('HSET', ck, 'furthest_ms', ARGV[10], 'resume_ms', ARGV[11], 'watch_ms', ARGV[12], 'completed', ARGV[14])
  redis.call('DEL', P .. 'cov:' .. cw)
  if ARGV[13] ~= '' then
    redis.call('SET', P .. 'cov:' .. cw, ARGV[13])
  end
end

local sid, resumed = ARGV[4], false
if ARGV[19] ~= '' then
  local r = redis.call('HMGET', skey(ARGV[19]), 'state', 'cw')
  if (r[1] == 'open' or r[1] == 'superseded') and r[2] == cw then
    sid, resumed = ARGV[19], true
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
  redis.call('HSET', sk, 'state', 'open', 'token', ARGV[5], 'end_reason', '', 'ended_ms', '', 'superseded_by', '')
  add_event(sid, 'resumed', {})
else
  local resume = num(redis.call('HGET', ck, 'resume_ms'))
  redis.call('HSET', sk, 'uid', UID, 'cw', cw, 'dur_ms', ARGV[7], 'req_watch_ms', ARGV[8], 'req_cov_s', ARGV[9],
    'state', 'open', 'token', ARGV[5], 'started_ms', int(NOW), 'last_hb_ms', int(NOW), 'pos_ms', int(resume),
    'playing', '0', 'credited_ms', '0', 'prov_ms', '0', 'voided_ms', '0', 'furthest_ms', '0', 'drift_ms', '0',
    'hb_n', '0', 'tr_n', '0', 'risk', '0', 'held', '0', 'ip', ARGV[15], 'ua', ARGV[16], 'dev', ARGV[17])
  add_event(sid, 'opened', {resume_ms = resume})
end
if concurrent then
  add_event(sid, 'concurrent', {other = concurrent})
end
if ARGV[18] == '1' and redis.call('HSETNX', sk, 'auto_flag', '1') == 1 then
  add_event(sid, 'automation', {source = 'user_agent'})
end

redis.call('SET', P .. 'active', sid)
redis.call('HSETNX', P .. 'chk', 'left_ms', draw)

touch(sid)
redis.call('ZADD', 'trk:live', NOW, UID .. ':' .. sid)
expire_session(sid, CFG.session_ttl_ms)
expire_person(cw)

local out = totals(sid)
out.status, out.sid, out.token, out.resumed, out.check = 'ok', sid, ARGV[5], resumed, check_view(sid)
out.superseded = superseded
return cjson.encode(out)
