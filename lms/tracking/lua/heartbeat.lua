-- Judge one heartbeat atomically: token, flood, gap, verified position, playback rate, overlap with the person's
-- other playbacks, the daily cap, attention checks; credit the interval or explain why not; issue the next token.
-- KEYS: 1 the session hash
-- ARGV: 1 now|'', 2 uid, 3 sid, 4 token, 5 next token, 6 position ms, 7 playing 0|1,
--       8 hints (JSON object), 9 draw ms (next check countdown), 10 check code, 11 check id
-- settings: CFG
NOW = clock(ARGV[1])
UID = ARGV[2]
local sid, sk = ARGV[3], KEYS[1]

if call('EXISTS', sk) == 0 then
  return reply({status = 'no_session'})
end
local h = hgetall(sk)
local wanting = need_keys(sid, h.cw)
if wanting then
  return wanting
end
if h.state == 'superseded' then
  add_event(sid, 'superseded_heartbeat', {})
  touch(sid)
  return reply({status = 'superseded', by = h.superseded_by})
end
if h.state ~= 'open' then
  return reply({status = 'ended', reason = h.end_reason})
end
-- Invariant 6: only the token issued with the previous acknowledgement; nothing else changes.
if ARGV[4] ~= h.token then
  add_event(sid, 'bad_token', {})
  touch(sid)
  return reply({status = 'bad_token'})
end
local last = num(h.last_hb_ms)
local dt = NOW - last
if dt < CFG.min_interval_ms then
  add_event(sid, 'flood', {dt_ms = dt})
  touch(sid)
  return reply({status = 'too_soon', retry_in_ms = CFG.min_interval_ms - dt})
end

local hints = cjson.decode(ARGV[8])
local playing, draw = ARGV[7] == '1', ARGV[9]
local voided, voided_reason = 0, nil
local chk = hgetall(P .. 'chk')
if pending(chk) and NOW > num(chk.deadline_ms) then
  local v, hard = expire_check(chk, draw)
  if hard then
    voided, voided_reason = v, 'check_missed'
  end
  chk = hgetall(P .. 'chk')
end

local ck = P .. 'cw:' .. h.cw
local furthest = num(call('HGET', ck, 'furthest_ms'))
local pos0 = num(h.pos_ms)
local pos1 = math.min(math.max(math.floor(num(ARGV[6])), 0), num(h.dur_ms))
local adv = pos1 - pos0
local tol = CFG.pos_tol_ms
local expected = dt * CFG.rate
local drift = num(h.drift_ms)
-- verified: the media got from pos0 to pos1 by playing at the allowed rate from a verified start, whether or not
-- the time is credited; only then may the furthest verified position move (invariant 4).
local reason, candidate, verified = nil, false, false
-- How far past the furthest verified position an interval may start: the position tolerance, except right after
-- an interval refused for its rate, whose advance was never verified however short it was (heartbeats closer
-- together than the tolerance would otherwise let a raised rate earn every other interval).
local start_tol = h.lead == '1' and CFG.still_ms or tol

if dt > CFG.max_gap_ms then
  -- Invariant 5: nothing across a gap (disconnect, background tab, sleep), however the position moved. A page
  -- that kept playing from its buffer through a network drop may carry on from where it is, though the gap earned
  -- nothing; no buffer lasts longer than gap_carry_ms, so a long absence cannot move the verified position far.
  reason, drift = 'gap', 0
  verified = adv >= -CFG.still_ms and adv <= math.min(expected + tol, CFG.gap_carry_ms) and pos0 <= furthest + start_tol
  add_event(sid, 'gap', {dt_ms = dt})
elseif chk.pending == 'play' then
  reason = 'check_pending'
  if adv > tol then
    add_event(sid, 'played_during_check', {from_ms = pos0, to_ms = pos1})
  end
elseif adv < -CFG.still_ms then
  reason, drift = 'seek_back', 0
  add_event(sid, 'seek', {from_ms = pos0, to_ms = pos1, dt_ms = dt})
elseif adv <= CFG.still_ms then
  reason = playing and 'stalled' or 'paused'
elseif adv > expected * CFG.jump_rate + tol or (pos1 <= furthest + tol and adv > expected + tol) then
  -- A jump: faster than any playback rate, or a skip forward inside what verified playing already reached
  -- (navigation, not a raised rate). Either way the interval earns nothing.
  drift = 0
  reason = pos1 > furthest + tol and 'seek_ahead' or 'seek'
  add_event(sid, reason, {from_ms = pos0, to_ms = pos1, dt_ms = dt})
else
  -- Invariant 3 on the cumulative drift of media time over server time: network jitter cancels out over
  -- consecutive intervals while a raised playback rate accumulates. The floor keeps pauses from banking slack.
  local d = math.max(drift, -tol) + adv - expected
  if d > tol then
    reason, drift = 'rate', tol / 2
    add_event(sid, 'rate', {dt_ms = dt, advance_ms = adv, drift_ms = math.floor(d)})
  elseif pos0 > furthest + start_tol then
    -- Invariant 4: the interval must start inside what verified playing has reached.
    reason, drift = 'beyond_verified', d
    add_event(sid, 'beyond_verified', {pos_ms = pos0, furthest_ms = furthest})
  else
    drift, candidate, verified = d, true, true
  end
end

-- A run is a stretch of consecutive verified intervals of this session. Over a run the credit is
-- min(server time, media advance ÷ rate) of the whole run, so network delay that makes one interval look short
-- and the next long costs nothing, while no interval's credit can reach outside the run's own server time.
-- Each credit is attributed to the wall-clock range (run_from + credited so far, + credit], never after now.
-- Invariant 2: a run starts no earlier than the person's credited-until watermark, whichever session set it,
-- so the wall-clock ranges credited to one person never overlap.
local run_from, run_wall, run_media, run_credit = h.run_from_ms or '', num(h.run_wall_ms), num(h.run_media_ms),
  num(h.run_credit_ms)
local credit, credit_from = 0, nil
if candidate then
  local watermark = num(call('GET', P .. 'until'))
  local start = math.max(last, watermark)
  local avail = math.max(NOW - start, 0)
  if run_from == '' or watermark > last then
    run_from, run_wall, run_media, run_credit = int(start), 0, 0, 0
  end
  if avail < dt then
    add_event(sid, 'overlap', {ms = dt - avail})
  end
  run_wall = run_wall + avail
  run_media = run_media + adv / CFG.rate
  local target = math.floor(math.min(run_wall, run_media))
  credit = math.max(target - run_credit, 0)
  credit_from = num(run_from) + run_credit
  run_credit = run_credit + credit -- all of it, even what the cap below takes away: that part is forfeited
  if credit == 0 and avail == 0 then
    reason = 'overlap'
  end
else
  run_from, run_wall, run_media, run_credit = '', 0, 0, 0
end
call('HSET', sk, 'run_from_ms', run_from, 'run_wall_ms', int(run_wall),
  'run_media_ms', string.format('%.3f', run_media), 'run_credit_ms', int(run_credit))

-- Invariant 8: the daily cap (provisional time counts; the day is the configured local day).
-- The person's credited ms today: one hash (local day number, ms) rather than a key per day.
local day_key = int((NOW + CFG.day_offset_ms) / 86400000)
local day = call('HMGET', P .. 'day', 'n', 'ms')
local today = day[1] == day_key and num(day[2]) or 0
if credit > 0 and today + credit > CFG.daily_cap_ms then
  credit = math.max(CFG.daily_cap_ms - today, 0)
  if call('HGET', sk, 'cap_day') ~= day_key then
    call('HSET', sk, 'cap_day', day_key)
    add_event(sid, 'daily_cap', {cap_ms = CFG.daily_cap_ms})
  end
  if credit == 0 then
    reason = 'daily_cap'
  end
end

if credit > 0 then
  today = today + credit
  call('HSET', P .. 'day', 'n', day_key, 'ms', int(today))
  call('PEXPIRE', P .. 'day', 2 * 86400000)
  -- SET without PX would drop the watermark's TTL.
  call('SET', P .. 'until', int(NOW), 'PX', CFG.person_ttl_ms)
  call('HINCRBY', sk, 'prov_ms', int(credit))
  call('HSET', P .. 'pool', sid, h.cw)
  -- Coverage: the media seconds whose midpoints lie in the credited part of the advance, as a set (bitmap).
  local from = pos1 - credit * CFG.rate
  for s = math.max(math.ceil((from - 500) / 1000), 0), math.ceil((pos1 - 500) / 1000) - 1 do
    call('SETBIT', sk .. ':pcov', s, 1)
  end
  expire_like(sk .. ':pcov', sk)
  call('HSET', ck, 'resume_ms', int(pos1))
  -- Invariant 7: the countdown runs on credited time of the person, so reopening a page cannot reset it.
  local left = call('HINCRBY', P .. 'chk', 'left_ms', int(-credit))
  if left <= 0 and chk.pending ~= 'play' then
    issue_check(sid, 'play', ARGV[10], ARGV[11])
    chk = hgetall(P .. 'chk')
  end
end

if verified and pos1 > furthest then
  furthest = pos1
  call('HSET', ck, 'furthest_ms', int(pos1))
end
if verified and pos1 > num(h.furthest_ms) then
  call('HSET', sk, 'furthest_ms', int(pos1))
end

-- At the end of the media, offer a check that confirms the time since the last one.
if pos1 >= num(h.dur_ms) - CFG.end_tol_ms and not pending(chk) and call('HLEN', P .. 'pool') > 0 then
  issue_check(sid, 'end', ARGV[10], ARGV[11])
end

-- Evidence from the cadence and from the client's hints (never credited, only recorded).
if dt <= CFG.max_gap_ms then
  local n = num(h.cad_n) + 1
  local mean, m2 = num(h.cad_mean), num(h.cad_m2)
  local delta = dt - mean
  mean = mean + delta / n
  m2 = m2 + delta * (dt - mean)
  call('HSET', sk, 'cad_n', n, 'cad_mean', string.format('%.3f', mean), 'cad_m2', string.format('%.3f', m2))
  if n >= CFG.cadence_min_n and h.cad_flag ~= '1' then
    local sd = math.sqrt(m2 / (n - 1))
    if sd < CFG.cadence_max_sd_ms then
      call('HSET', sk, 'cad_flag', '1')
      add_event(sid, 'regular_cadence', {sd_ms = math.floor(sd * 10) / 10, n = n})
    end
  end
end
if hints.webdriver == true and call('HSETNX', sk, 'auto_flag', '1') == 1 then
  add_event(sid, 'automation', {source = 'webdriver'})
end
if type(hints.rate) == 'number' and math.abs(hints.rate - CFG.rate) > 0.01 then
  local shown = string.format('%.2f', hints.rate)
  if h.rate_hint ~= shown then
    call('HSET', sk, 'rate_hint', shown)
    add_event(sid, 'rate_setting', {rate = hints.rate})
  end
end
if hints.hidden == true and playing and adv > tol then
  add_event(sid, 'hidden_playing', {advance_ms = adv})
end
if type(hints.seek_blocked) == 'number' and hints.seek_blocked > 0 then
  add_event(sid, 'seek_attempt', {count = hints.seek_blocked})
end
if type(hints.rate_blocked) == 'number' and hints.rate_blocked > 0 then
  add_event(sid, 'rate_attempt', {count = hints.rate_blocked, rate = hints.rate_tried})
end

local trn = num(h.tr_n)
if trn < CFG.max_trace then
  if call('RPUSH', sk .. ':tr', string.format('%d,%d,%d,%s', NOW - num(h.started_ms), pos1, credit,
    reason or '')) == 1 then
    expire_like(sk .. ':tr', sk)
  end
  call('HSET', sk, 'tr_n', trn + 1)
end
local lead = h.lead or '0'
if reason == 'rate' then
  lead = '1'
elseif verified then
  lead = '0'
end
call('HSET', sk, 'token', ARGV[5], 'last_hb_ms', int(NOW), 'pos_ms', int(pos1), 'playing', playing and '1' or '0',
  'drift_ms', string.format('%.3f', drift), 'lead', lead)
call('HINCRBY', sk, 'hb_n', 1)
touch(sid)
mark_live(sid)
-- The TTLs are days long: refreshing them about once a minute is enough (open and close set them too).
if num(h.hb_n) % 12 == 0 then
  expire_session(sid, CFG.session_ttl_ms)
  expire_person(h.cw)
end

local out = totals(sid)
local just_met = false
if not out.completed and out.watch_ms >= out.required_watch_ms and out.coverage_s >= out.required_coverage_s then
  call('HSET', ck, 'completed', '1')
  just_met = true
end
out.status, out.token, out.credit_ms, out.dt_ms, out.reason = 'ok', ARGV[5], credit, dt, reason
out.credit_from_ms, out.run_from_ms, out.position_ms = credit_from, run_from ~= '' and num(run_from) or nil, pos1
out.voided_ms, out.voided_reason, out.today_ms, out.check, out.just_met = voided, voided_reason, today,
  check_view(sid), just_met
return reply(out)
