-- Helpers shared by every tracking script: store.py prepends this file to each script before loading it, and
-- writes the settings in as a Lua table (CFG) where the script says "-- settings: CFG".
--
-- Times and media positions are integer milliseconds. Lua 5.1 numbers are doubles, exact for such values,
-- but Redis wants integers written without an exponent or a fraction, so every integer goes out through int().
-- All keys of one person share the hash tag {uid}; a script derives them from the prefix P = "trk:{uid}:".

local CFG, UID, P, NOW

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
  local flat = redis.call('HGETALL', key)
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
  return redis.call('EXISTS', skey(sid)) == 1
end

-- Every change bumps the session's version, so a flush never writes an older snapshot over a newer one.
local function touch(sid)
  if exists(sid) then
    redis.call('HINCRBY', skey(sid), 'v', 1)
    redis.call('SADD', 'trk:dirty', UID .. ':' .. sid)
  end
end

local function expire_session(sid, ttl_ms)
  local sk = skey(sid)
  for _, suffix in ipairs({'', ':ev', ':tr', ':cov', ':pcov'}) do
    redis.call('PEXPIRE', sk .. suffix, ttl_ms)
  end
end

local function expire_person(cw)
  local ttl = CFG.person_ttl_ms
  for _, name in ipairs({'active', 'until', 'chk', 'pool'}) do
    redis.call('PEXPIRE', P .. name, ttl)
  end
  if cw then
    redis.call('PEXPIRE', P .. 'cw:' .. cw, ttl)
    redis.call('PEXPIRE', P .. 'cov:' .. cw, ttl)
  end
end

-- Append an evidence event and add its risk points; past the hold threshold the session is held for review.
local function add_event(sid, etype, values)
  if not exists(sid) then
    return
  end
  local sk = skey(sid)
  local n = redis.call('HINCRBY', sk, 'ev_n', 1)
  if n <= CFG.max_events then
    redis.call('RPUSH', sk .. ':ev', cjson.encode({seq = n, t = NOW, type = etype, v = values or {}}))
  end
  local w = CFG.risk[etype]
  if w then
    local c = redis.call('HINCRBY', sk, 'n:' .. etype, 1)
    local added = math.min(c * w[1], w[2]) - math.min((c - 1) * w[1], w[2])
    if added > 0 then
      local risk = redis.call('HINCRBY', sk, 'risk', int(added))
      if risk >= CFG.hold_threshold and redis.call('HGET', sk, 'held') ~= '1' then
        redis.call('HSET', sk, 'held', '1', 'held_ms', int(NOW))
        add_event(sid, 'held', {risk = risk})
      end
    end
  end
end

-- The person's provisional time since the last passed check, over every session that earned some ("the pool"):
-- a passed check confirms all of it, a missed or wrong answer voids all of it (SPEC invariant 7).
local function settle_pool(confirm, reason)
  local total = 0
  for _, sid in ipairs(redis.call('SMEMBERS', P .. 'pool')) do
    local sk = skey(sid)
    local prov = num(redis.call('HGET', sk, 'prov_ms'))
    if prov > 0 then
      total = total + prov
      redis.call('HSET', sk, 'prov_ms', '0')
      if confirm then
        local cw = redis.call('HGET', sk, 'cw')
        redis.call('HINCRBY', sk, 'credited_ms', int(prov))
        redis.call('BITOP', 'OR', sk .. ':cov', sk .. ':cov', sk .. ':pcov')
        redis.call('BITOP', 'OR', P .. 'cov:' .. cw, P .. 'cov:' .. cw, sk .. ':pcov')
        redis.call('HINCRBY', P .. 'cw:' .. cw, 'watch_ms', int(prov))
        -- BITOP replaces its destination, dropping the TTL.
        redis.call('PEXPIRE', sk .. ':cov', CFG.session_ttl_ms)
        redis.call('PEXPIRE', P .. 'cov:' .. cw, CFG.person_ttl_ms)
      else
        redis.call('HINCRBY', sk, 'voided_ms', int(prov))
        add_event(sid, 'voided', {ms = prov, reason = reason})
      end
      touch(sid)
    end
    redis.call('DEL', sk .. ':pcov')
  end
  redis.call('DEL', P .. 'pool')
  return total
end

local function pool_ms()
  local total = 0
  for _, sid in ipairs(redis.call('SMEMBERS', P .. 'pool')) do
    total = total + num(redis.call('HGET', skey(sid), 'prov_ms'))
  end
  return total
end

local function pending(chk)
  return chk.pending ~= nil and chk.pending ~= ''
end

-- kind "play" blocks crediting until answered and a miss voids the pool; "end" and "close" only offer an early
-- confirmation, so leaving them unanswered voids nothing.
local function issue_check(sid, kind, code, id)
  redis.call('HSET', P .. 'chk', 'pending', kind, 'code', code, 'id', id, 'sid', sid,
    'issued_ms', int(NOW), 'deadline_ms', int(NOW + CFG.check_window_ms))
  add_event(sid, 'check_issued', {id = id, kind = kind})
end

local function expire_check(chk, draw)
  local voided, hard = 0, chk.pending == 'play'
  if hard then
    voided = settle_pool(false, 'check_missed')
    add_event(chk.sid, 'check_missed', {id = chk.id, voided_ms = voided})
    redis.call('HSET', P .. 'chk', 'left_ms', draw)
  else
    add_event(chk.sid, 'check_unanswered', {id = chk.id, kind = chk.pending})
  end
  redis.call('HSET', P .. 'chk', 'pending', '')
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
  if redis.call('HGET', sk, 'state') ~= 'open' then
    return false
  end
  redis.call('HSET', sk, 'state', state, 'end_reason', reason, 'ended_ms', int(NOW), 'superseded_by', by or '')
  local chk = hgetall(P .. 'chk')
  if chk.pending == 'play' and chk.sid == sid then
    expire_check(chk, draw)
  end
  if redis.call('GET', P .. 'active') == sid then
    redis.call('DEL', P .. 'active')
  end
  redis.call('ZREM', 'trk:live', UID .. ':' .. sid)
  add_event(sid, state, {reason = reason, by = by})
  touch(sid)
  expire_session(sid, CFG.session_ttl_ms)
  return true
end

-- The evidence types that added risk to a held session, so that the learner can be told why it waits for review.
local function held_types(sid)
  local types = {}
  for etype, _ in pairs(CFG.risk) do
    if num(redis.call('HGET', skey(sid), 'n:' .. etype)) > 0 then
      types[#types + 1] = etype
    end
  end
  return types
end

local function totals(sid)
  local t = redis.call('HMGET', skey(sid), 'credited_ms', 'prov_ms', 'voided_ms', 'held', 'cw', 'req_watch_ms',
    'req_cov_s', 'dur_ms')
  local cw = t[5]
  local cwh = hgetall(P .. 'cw:' .. cw)
  return {
    credited_ms = num(t[1]), pending_ms = num(t[2]), session_voided_ms = num(t[3]), held = t[4] == '1',
    held_types = t[4] == '1' and held_types(sid) or nil,
    pool_ms = pool_ms(), watch_ms = num(cwh.watch_ms), coverage_s = redis.call('BITCOUNT', P .. 'cov:' .. cw),
    furthest_ms = num(cwh.furthest_ms), resume_ms = num(cwh.resume_ms), required_watch_ms = num(t[6]),
    required_coverage_s = num(t[7]), duration_ms = num(t[8]), completed = cwh.completed == '1',
  }
end
