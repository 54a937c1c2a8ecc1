-- End a playback: closed by its page, or found idle by the sweeper. A blocking check left waiting is missed;
-- time still pending since the last check is offered a closing check, else it waits for the next passed one.
-- KEYS: 1 the session hash
-- ARGV: 1 cfg, 2 now|'', 3 uid, 4 prefix, 5 sid, 6 reason closed|idle, 7 idle ms, 8 draw ms, 9 check code, 10 check id
CFG = cjson.decode(ARGV[1])
NOW = clock(ARGV[2])
UID = ARGV[3]
P = ARGV[4]
local sid, reason = ARGV[5], ARGV[6]

if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('ZREM', 'trk:live', UID .. ':' .. sid)
  return cjson.encode({status = 'no_session'})
end
local h = hgetall(KEYS[1])
if h.state ~= 'open' then
  redis.call('ZREM', 'trk:live', UID .. ':' .. sid)
  return cjson.encode({status = 'ended', reason = h.end_reason})
end
if reason == 'idle' and NOW - num(h.last_hb_ms) < num(ARGV[7]) then
  return cjson.encode({status = 'active'})
end

local missed = 0
local chk = hgetall(P .. 'chk')
if chk.pending == 'play' and chk.sid == sid then
  missed = expire_check(chk, ARGV[8])
end
end_session(sid, 'closed', reason, nil, ARGV[8])
chk = hgetall(P .. 'chk')
if reason == 'closed' and not pending(chk) and redis.call('SCARD', P .. 'pool') > 0 then
  issue_check(sid, 'close', ARGV[9], ARGV[10])
end
local out = totals(sid)
out.status, out.voided_ms, out.check = 'closed', missed, check_view(sid)
return cjson.encode(out)
