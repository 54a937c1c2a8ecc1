-- Helpers shared by every tracking script: store.py prepends this file to each script before loading it, and
-- writes the settings in as a Lua table (CFG) where the script says "-- settings: CFG".
--
-- Times and media positions are integer milliseconds. Lua 5.1 numbers are doubles, exact for such values,
-- but Redis wants integers written without an exponent or a fraction, so every integer goes out through int().
--
-- Redis Cluster: a script may touch only keys it declares in KEYS, all in one slot. Every key of one person
-- shares the hash tag {uid}; the person's prefix P is read from the declared keys (KEYS[2] is P .. 'active'),
-- never from an argument, and every command goes through call(), which refuses a key that was not declared.
-- The keys a script may need beyond its own session (the active playback, the pending check's session, the
-- pool's sessions) are only known inside Redis, so each script first checks they were declared (need_keys) and
-- otherwise answers status 'keys' with the sessions to declare, having changed nothing; store.py calls again.
-- The flusher's dirty set and the idle sweep's live set are sharded buckets in slots of their own: a script
-- only lists what to mark (MARKS) and store.py writes the marks to the person's bucket (lua/mark.lua).
--
-- KEYS of the judging scripts (store.person_keys): 1 the session hash, 2 active, 3 until, 4 chk, 5 pool, 6 day,
-- 7 opens, 8 cw:<cw>, 9 cov:<cw>, 10..13 the session's :ev :tr :cov :pcov, then 7 keys per further session
-- (hash, :ev, :tr, :cov, :pcov, cw:<cw>, cov:<cw>).

local CFG, UID, P, NOW
local DECLARED = {}
for _, k in ipairs(KEYS) do
  DECLARED[k] = true
end
P = string.sub(KEYS[2] or '', 1, -7)
local MARKS = {d = {}, l = {}, g = {}}

local function K(key)
  if not DECLARED[key] then
    error('tracking script touched an undeclared key ' .. tostring(key))
  end
  return key
end

local function call(cmd, key, ...)
  return redis.call(cmd, K(key), ...)
end

local function int(x)
  return string.format('%d', math.floor(x))
end

local function num(x)
  return tonumber(x) or 0
end

-- The server's clock: Redis TIME, shared by every web process. The argument is a seam for tests only: it is
-- filled in by server code (store.py) from an injected clock and never from anything a client sends.
local function clock(arg)
  if arg ~= nil and arg ~= '' then
    return math.floor(tonumber(arg))
  end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function hgetall(key)
  local flat = call('HGETALL', key)
  local t = {}
  for i = 1, #flat, 2 do
    t[flat[i]] = flat[i + 1]
  end
  return t
end

local function skey(sid)
  return P .. 's:' .. sid
end

local function exists(sid)
  return call('EXISTS', skey(sid)) == 1
end

-- Every change bumps the session's version, so a flush never writes an older snapshot over a newer one.
local function touch(sid)
  if exists(sid) then
    call('HINCRBY', skey(sid), 'v', 1)
    MARKS.d[#MARKS.d + 1] = sid
  end
end

-- The idle sweep's live set (by last activity), written by store.py to the person's bucket.
local function mark_live(sid)
  MARKS.l[#MARKS.l + 1] = sid
end

local function mark_gone(sid)
  MARKS.g[#MARKS.g + 1] = sid
end

-- Every answer carries the marks for store.py (cjson writes an empty table as {}, so empty lists are left out).
local function reply(out)
  local marks = {}
  for name, list in pairs(MARKS) do
    if #list > 0 then
      marks[name] = list
    end
  end
  if next(marks) then
    out.marks, out.now_ms = marks, NOW
  end
  return cjson.encode(out)
end

-- The sessions whose keys a script may touch besides its own: the active playback, the pending check's session
-- and the pool's sessions (with their courseware). The caller declared them all, or nothing is done: the answer
-- 'keys' names them and store.py calls again with them declared. ``cw`` is the script's own courseware.
local function need_keys(sid, cw, also)
  local want, missing = {}, false
  local function need(s, c)
    if s and s ~= '' then
      want[#want + 1] = {s, c or ''}
      local sk = P .. 's:' .. s
      if not (DECLARED[sk] and DECLARED[sk .. ':ev'] and DECLARED[sk .. ':pcov']) then
        missing = true
      end
      if c and c ~= '' and not (DECLARED[P .. 'cw:' .. c] and DECLARED[P .. 'cov:' .. c]) then
        missing = true
      end
    end
  end
  if KEYS[8] ~= P .. 'cw:' .. cw or KEYS[1] ~= P .. 's:' .. sid then
    missing = true
  end
  want[#want + 1] = {sid, cw}
  need(redis.call('GET', KEYS[2]), nil)
  need(redis.call('HGET', KEYS[4], 'sid'), nil)
  local pool = redis.call('HGETALL', KEYS[5])
  for i = 1, #pool, 2 do
    need(pool[i], pool[i + 1])
  end
  if also then
    need(also, cw)
  end
  if missing then
    return cjson.encode({status = 'keys', sessions = want})
  end
  return nil
end

-- A key created next to a session's hash (a list, a bitmap) expires with it.
local function expire_like(key, sk)
  local ttl = call('PTTL', sk)
  call('PEXPIRE', key, ttl > 0 and ttl or CFG.session_ttl_ms)
end

local function expire_session(sid, ttl_ms)
  local sk = skey(sid)
  for _, suffix in ipairs({'', ':ev', ':tr', ':cov', ':pcov'}) do
    call('PEXPIRE', sk .. suffix, ttl_ms)
  end
end

local function expire_person(cw)
  local ttl = CFG.person_ttl_ms
  for _, name in ipairs({'active', 'until', 'chk', 'pool', 'day'}) do
    call('PEXPIRE', P .. name, ttl)
  end
  if cw then
    call('PEXPIRE', P .. 'cw:' .. cw, ttl)
    call('PEXPIRE', P .. 'cov:' .. cw, ttl)
  end
end

-- Append an evidence event and add its risk points; past the hold threshold the session is held for review.
local function add_event(sid, etype, values)
  if not exists(sid) then
    return
  end
  local sk = skey(sid)
  local n = call('HINCRBY', sk, 'ev_n', 1)
  if n <= CFG.max_events then
    if call('RPUSH', sk .. ':ev', cjson.encode({seq = n, t = NOW, type = etype, v = values or {}})) == 1 then
      expire_like(sk .. ':ev', sk)
    end
  end
  local w = CFG.risk[etype]
  if w then
    local c = call('HINCRBY', sk, 'n:' .. etype, 1)
    local added = math.min(c * w[1], w[2]) - math.min((c - 1) * w[1], w[2])
    if added > 0 then
      local risk = call('HINCRBY', sk, 'risk', int(added))
      if risk >= CFG.hold_threshold and call('HGET', sk, 'held') ~= '1' then
        call('HSET', sk, 'held', '1', 'held_ms', int(NOW))
        add_event(sid, 'held', {risk = risk})
      end
    end
  end
end

-- The person's provisional time since the last passed check, over every session that earned some ("the pool"):
-- a passed check confirms all of it, a missed or wrong answer voids all of it (SPEC invariant 7).
local function settle_pool(confirm, reason)
  local total = 0
  for _, sid in ipairs(call('HKEYS', P .. 'pool')) do
    local sk = skey(sid)
    local prov = num(call('HGET', sk, 'prov_ms'))
    if prov > 0 then
      total = total + prov
      call('HSET', sk, 'prov_ms', '0')
      if confirm then
        local cw = call('HGET', sk, 'cw')
        call('HINCRBY', sk, 'credited_ms', int(prov))
        redis.call('BITOP', 'OR', K(sk .. ':cov'), sk .. ':cov', K(sk .. ':pcov'))
        redis.call('BITOP', 'OR', K(P .. 'cov:' .. cw), P .. 'cov:' .. cw, sk .. ':pcov')
        call('HINCRBY', P .. 'cw:' .. cw, 'watch_ms', int(prov))
        -- BITOP replaces its destination, dropping the TTL.
        expire_like(sk .. ':cov', sk)
        call('PEXPIRE', P .. 'cov:' .. cw, CFG.person_ttl_ms)
      else
        call('HINCRBY', sk, 'voided_ms', int(prov))
        add_event(sid, 'voided', {ms = prov, reason = reason})
      end
      touch(sid)
    end
    call('DEL', sk .. ':pcov')
  end
  call('DEL', P .. 'pool')
  return total
end

local function pool_ms()
  local total = 0
  for _, sid in ipairs(call('HKEYS', P .. 'pool')) do
    total = total + num(call('HGET', skey(sid), 'prov_ms'))
  end
  return total
end

local function pending(chk)
  return chk.pending ~= nil and chk.pending ~= ''
end

-- kind "play" blocks crediting until answered and a miss voids the pool; "end" and "close" only offer an early
-- confirmation, so leaving them unanswered voids nothing.
local function issue_check(sid, kind, code, id)
  call('HSET', P .. 'chk', 'pending', kind, 'code', code, 'id', id, 'sid', sid,
    'issued_ms', int(NOW), 'deadline_ms', int(NOW + CFG.check_window_ms))
  add_event(sid, 'check_issued', {id = id, kind = kind})
end

local function expire_check(chk, draw)
  local voided, hard = 0, chk.pending == 'play'
  if hard then
    voided = settle_pool(false, 'check_missed')
    add_event(chk.sid, 'check_missed', {id = chk.id, voided_ms = voided})
    call('HSET', P .. 'chk', 'left_ms', draw)
  else
    add_event(chk.sid, 'check_unanswered', {id = chk.id, kind = chk.pending})
  end
  call('HSET', P .. 'chk', 'pending', '')
  touch(chk.sid)
  return voided, hard
end

local function check_view(sid)
  local chk = hgetall(P .. 'chk')
  if pending(chk) and chk.sid == sid then
    return {id = chk.id, kind = chk.pending, code = chk.code, expires_in_ms = num(chk.deadline_ms) - NOW}
  end
  return nil
end

-- End an open session (closed by its page, idle, or superseded by a newer playback of the same person).
-- Leaving while a blocking check waits counts as missing it, or switching tabs would dodge every check.
local function end_session(sid, state, reason, by, draw)
  local sk = skey(sid)
  if call('HGET', sk, 'state') ~= 'open' then
    return false
  end
  call('HSET', sk, 'state', state, 'end_reason', reason, 'ended_ms', int(NOW), 'superseded_by', by or '')
  local chk = hgetall(P .. 'chk')
  if chk.pending == 'play' and chk.sid == sid then
    expire_check(chk, draw)
  end
  if call('GET', P .. 'active') == sid then
    call('DEL', P .. 'active')
  end
  mark_gone(sid)
  add_event(sid, state, {reason = reason, by = by})
  touch(sid)
  expire_session(sid, CFG.session_ttl_ms)
  return true
end

-- The evidence types that added risk to a held session, so that the learner can be told why it waits for review.
local function held_types(sid)
  local types = {}
  for etype, _ in pairs(CFG.risk) do
    if num(call('HGET', skey(sid), 'n:' .. etype)) > 0 then
      types[#types + 1] = etype
    end
  end
  return types
end

local function totals(sid)
  local t = call('HMGET', skey(sid), 'credited_ms', 'prov_ms', 'voided_ms', 'held', 'cw', 'req_watch_ms',
    'req_cov_s', 'dur_ms')
  local cw = t[5]
  local cwh = hgetall(P .. 'cw:' .. cw)
  return {
    credited_ms = num(t[1]), pending_ms = num(t[2]), session_voided_ms = num(t[3]), held = t[4] == '1',
    held_types = t[4] == '1' and held_types(sid) or nil,
    pool_ms = pool_ms(), watch_ms = num(cwh.watch_ms), coverage_s = call('BITCOUNT', P .. 'cov:' .. cw),
    furthest_ms = num(cwh.furthest_ms), resume_ms = num(cwh.resume_ms), required_watch_ms = num(t[6]),
    required_coverage_s = num(t[7]), duration_ms = num(t[8]), completed = cwh.completed == '1',
  }
end
