-- Add evidence found across people (service.cross_person_evidence) to one session of one person.
-- KEYS: 1 the session hash
-- ARGV: 1 now|'', 2 uid, 3 sid, 4 JSON list of [type, values, once-key]
-- An event whose once-key the session already carries is not added again (one device seen at every open).
-- settings: CFG
NOW = clock(ARGV[1])
UID = ARGV[2]
local sid = ARGV[3]
if call('EXISTS', KEYS[1]) == 0 then
  return reply({status = 'no_session'})
end
local wanting = need_keys(sid, call('HGET', KEYS[1], 'cw'))
if wanting then
  return wanting
end
local added = 0
for _, item in ipairs(cjson.decode(ARGV[4])) do
  if call('HSETNX', KEYS[1], 'once:' .. item[3], '1') == 1 then
    add_event(sid, item[1], item[2])
    added = added + 1
  end
end
if added > 0 then
  touch(sid)
end
local out = totals(sid)
out.status, out.added = 'ok', added
return reply(out)
