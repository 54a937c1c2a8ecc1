-- Answer the person's pending attention check: right confirms the pool, wrong or late voids it (invariant 7).
-- KEYS: 1 the session hash
-- ARGV: 1 cfg, 2 now|'', 3 uid, 4 prefix, 5 sid, 6 check id, 7 answer (normalised by the server), 8 draw ms
CFG = cjson.decode(ARGV[1])
NOW = clock(ARGV[2])
UID = ARGV[3]
P = ARGV[4]
local sid, draw = ARGV[5], ARGV[8]

local chk = hgetall(P .. 'chk')
if not pending(chk) or chk.id ~= ARGV[6] or chk.sid ~= sid or redis.call('EXISTS', KEYS[1]) == 0 then
  return cjson.encode({status = 'no_check'})
end
if NOW > num(chk.deadline_ms) then
  local voided, hard = expire_check(chk, draw)
  local out = totals(sid)
  out.status, out.voided_ms, out.blocking = 'expired', voided, hard
  return cjson.encode(out)
end

local latency = NOW - num(chk.issued_ms)
local kind = chk.pending
local out
redis.call('HSET', P .. 'chk', 'pending', '', 'left_ms', draw, 'last_pass_ms', int(NOW))
if ARGV[7] == chk.code then
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
return cjson.encode(out)
