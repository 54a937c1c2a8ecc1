-- Answer the person's pending attention check: right confirms the pool, wrong or late voids it (invariant 7).
-- KEYS: 1 the session hash
-- ARGV: 1 now|'', 2 uid, 3 sid, 4 check id, 5 answer (normalised by the server), 6 draw ms
-- settings: CFG
NOW = clock(ARGV[1])
UID = ARGV[2]
local sid, draw = ARGV[3], ARGV[6]

if call('EXISTS', KEYS[1]) == 1 then
  local wanting = need_keys(sid, call('HGET', KEYS[1], 'cw'))
  if wanting then
    return wanting
  end
end
local chk = hgetall(P .. 'chk')
if not pending(chk) or chk.id ~= ARGV[4] or chk.sid ~= sid or call('EXISTS', KEYS[1]) == 0 then
  return reply({status = 'no_check'})
end
if NOW > num(chk.deadline_ms) then
  local voided, hard = expire_check(chk, draw)
  local out = totals(sid)
  out.status, out.voided_ms, out.blocking = 'expired', voided, hard
  return reply(out)
end

local latency = NOW - num(chk.issued_ms)
local kind = chk.pending
local out
call('HSET', P .. 'chk', 'pending', '', 'left_ms', draw, 'last_pass_ms', int(NOW))
if ARGV[5] == chk.code then
  local confirmed = settle_pool(true, nil)
  add_event(sid, 'check_passed', {id = chk.id, kind = kind, latency_ms = latency, confirmed_ms = confirmed})
  if latency < CFG.min_answer_ms then
    add_event(sid, 'check_fast', {id = chk.id, latency_ms = latency})
  end
  out = totals(sid)
  out.status, out.confirmed_ms = 'passed', confirmed
else
  local voided = settle_pool(false, 'check_wrong')
  add_event(sid, 'check_wrong', {id = chk.id, kind = kind, latency_ms = latency, voided_ms = voided})
  out = totals(sid)
  out.status, out.voided_ms = 'wrong', voided
end
touch(sid)
return reply(out)
