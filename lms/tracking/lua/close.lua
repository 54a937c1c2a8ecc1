-- End a playback: closed by its page, or found idle by the sweeper. A blocking check left waiting is missed;
-- time still pending since the last check is offered a closing check, else it waits for the next passed one.
-- KEYS: 1 the session hash
-- ARGV: 1 now|'', 2 uid, 3 sid, 4 reason closed|idle, 5 idle ms, 6 draw ms, 7 check code, 8 check id
-- settings: CFG
NOW = clock(ARGV[1])
UID = ARGV[2]
local sid, reason = ARGV[3], ARGV[4]

if call('EXISTS', KEYS[1]) == 0 then
  mark_gone(sid)
  return reply({status = 'no_session'})
end
local h = hgetall(KEYS[1])
local wanting = need_keys(sid, h.cw)
if wanting then
  return wanting
end
if h.state ~= 'open' then
  mark_gone(sid)
  return reply({status = 'ended', reason = h.end_reason})
end
if reason == 'idle' and NOW - num(h.last_hb_ms) < num(ARGV[5]) then
  return reply({status = 'active'})
end

local missed = 0
local chk = hgetall(P .. 'chk')
if chk.pending == 'play' and chk.sid == sid then
  missed = expire_check(chk, ARGV[6])
end
end_session(sid, 'closed', reason, nil, ARGV[6])
chk = hgetall(P .. 'chk')
if reason == 'closed' and not pending(chk) and call('HLEN', P .. 'pool') > 0 then
  issue_check(sid, 'close', ARGV[7], ARGV[8])
end
local out = totals(sid)
out.status, out.voided_ms, out.check = 'closed', missed, check_view(sid)
return reply(out)
