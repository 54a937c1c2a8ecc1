-- End a playback: closed by its page, or found idle by the sweeper. A blocking check left waiting is missed;
-- time still pending since the last check is offered a closing check, else it waits for the next passed one.
-- KEYS: 1 the session hash
-- ARGV: 1 now|'', 2 uid, 3 prefix, 4 sid, 5 reason closed|idle, 6 idle ms, 7 draw ms, 8 check code, 9 check id
-- settings: CFG
NOW = clock(ARGV[1])
UID = ARGV[2]
P = ARGV[3]
local sid, reason = ARGV[4], ARGV[5]

if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('ZREM', 'trk:live', UID .. ':' .. sid)
  return cjson.encode({status = 'no_session'})
end
local h = hgetall(KEYS[1])
if h.state ~= 'open' then
  redis.call('ZREM', 'trk:live', UID .. ':' .. sid)
  return cjson.encode({status = 'ended', reason = h.end_reason})
end
if reason == 'idle' and NOW - num(h.last_hb_ms) < num(ARGV[6]) then
  return cjson.encode({status = 'active'})
end

local missed = 0
local chk = hgetall(P .. 'chk')
if chk.pending == 'play' and chk.sid == sid then
  missed = expire_check(chk, ARGV[7])
end
end_session(sid, 'closed', reason, nil, ARGV[7])
chk = hgetall(P .. 'chk')
if reason == 'closed' and not pending(chk) and redis.call('SCARD', P .. 'pool') > 0 then
  issue_check(sid, 'close', ARGV[8], ARGV[9])
end
local out = totals(sid)
out.status, out.voided_ms, out.check = 'closed', missed, check_view(sid)
return cjson.encode(out)
