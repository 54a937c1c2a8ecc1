-- Open a playback, or resume one after a reconnect; the person's previous playback, if any, is superseded.
-- KEYS: as common.lua says; the resumed session and the person's other sessions declared as further sessions
-- (the evidence across people, by address and device, is peers.lua's)
-- ARGV: 1 now|'', 2 uid, 3 new sid, 4 token, 5 courseware id, 6 duration ms, 7 required watch ms,
--       8 required coverage s, 9 seed furthest ms, 10 seed resume ms, 11 seed watch ms, 12 seed coverage bitmap,
--       13 seed completed 0|1, 14 ip, 15 user agent, 16 device id|'', 17 automation 0|1, 18 resume sid|'', 19 draw ms
-- settings: CFG
NOW = clock(ARGV[1])
UID = ARGV[2]
local cw, draw = ARGV[5], ARGV[19]

local wanting = need_keys(ARGV[3], cw, ARGV[18])
if wanting then
  return wanting
end

-- Opens per minute: one small hash (minute, count) rather than a key per minute.
local minute = int(NOW / 60000)
local o = call('HMGET', P .. 'opens', 'm', 'n')
local opened = (o[1] == minute and num(o[2]) or 0) + 1
call('HSET', P .. 'opens', 'm', minute, 'n', opened)
call('PEXPIRE', P .. 'opens', 120000)
if opened > CFG.opens_per_min then
  return reply({status = 'too_many_opens'})
end

-- The person's progress on this courseware, seeded from the database when Redis no longer has it.
local ck = P .. 'cw:' .. cw
if call('EXISTS', ck) == 0 then
  call('HSET', ck, 'furthest_ms', ARGV[9], 'resume_ms', ARGV[10], 'watch_ms', ARGV[11], 'completed', ARGV[13])
  call('DEL', P .. 'cov:' .. cw)
  if ARGV[12] ~= '' then
    call('SET', P .. 'cov:' .. cw, ARGV[12], 'PX', CFG.person_ttl_ms)
  end
end

local sid, resumed = ARGV[3], false
if ARGV[18] ~= '' then
  local r = call('HMGET', skey(ARGV[18]), 'state', 'cw')
  if (r[1] == 'open' or r[1] == 'superseded') and r[2] == cw then
    sid, resumed = ARGV[18], true
  end
end
local sk = skey(sid)

local concurrent, superseded = nil, nil
local old = call('GET', P .. 'active')
if old and old ~= sid then
  local old_last = num(call('HGET', skey(old), 'last_hb_ms'))
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
  call('HSET', sk, 'state', 'open', 'token', ARGV[4], 'end_reason', '', 'ended_ms', '', 'superseded_by', '')
  add_event(sid, 'resumed', {})
else
  local resume = num(call('HGET', ck, 'resume_ms'))
  call('HSET', sk, 'uid', UID, 'cw', cw, 'dur_ms', ARGV[6], 'req_watch_ms', ARGV[7], 'req_cov_s', ARGV[8],
    'state', 'open', 'token', ARGV[4], 'started_ms', int(NOW), 'last_hb_ms', int(NOW), 'pos_ms', int(resume),
    'playing', '0', 'credited_ms', '0', 'prov_ms', '0', 'voided_ms', '0', 'furthest_ms', '0', 'drift_ms', '0',
    'hb_n', '0', 'tr_n', '0', 'risk', '0', 'held', '0', 'ip', ARGV[14], 'ua', ARGV[15], 'dev', ARGV[16])
  add_event(sid, 'opened', {resume_ms = resume})
end
if concurrent then
  add_event(sid, 'concurrent', {other = concurrent})
end
if ARGV[17] == '1' and call('HSETNX', sk, 'auto_flag', '1') == 1 then
  add_event(sid, 'automation', {source = 'user_agent'})
end

call('SET', P .. 'active', sid, 'PX', CFG.person_ttl_ms)
call('HSETNX', P .. 'chk', 'left_ms', draw)

touch(sid)
mark_live(sid)
expire_session(sid, CFG.session_ttl_ms)
expire_person(cw)

local out = totals(sid)
out.status, out.sid, out.token, out.resumed, out.check = 'ok', sid, ARGV[4], resumed, check_view(sid)
out.superseded = superseded
return reply(out)
