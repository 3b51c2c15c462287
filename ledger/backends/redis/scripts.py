"""The Lua scripts the Redis backend runs on the server: commit, view save and runner locks.

Each runs atomically, so a check and the writes it guards cannot interleave with another client;
the keys and packed formats they read and write are described in
:mod:`~ledger.backends.redis.layout`.
"""

from __future__ import annotations

__all__ = ["COMMIT", "RELEASE_LOCK", "RENEW_LOCK", "SAVE_VIEW"]

COMMIT = """
-- Commit one transaction atomically, or nothing: every check runs before the first write.
-- ARGV: base, incarnation, expected head offset, new head offset, new head chain, commit µs,
--       commits member, number of checkpoints, (offset, value) per checkpoint, then one packed
--       row per new event (see layout.pack_row), at consecutive offsets after the expected head.
-- Rows are parsed here (not sent as separate arguments) and written with one command per key:
-- argument encoding and per-command calls dominated a 1000-row commit otherwise.
local base = ARGV[1]
local incarnation = redis.call('HGET', base .. ':meta', 'incarnation')
if incarnation ~= ARGV[2] then
  if incarnation then return {'lost', incarnation} end
  return {'lost'}
end
local head = tonumber(redis.call('HGET', base .. ':head', 'offset') or '0')
if head ~= tonumber(ARGV[3]) then
  return {'moved', tostring(head)}
end

local function each_chunk(list, step, fn)
  -- unpack() of a long list overflows Lua's C stack: hand commands at most `step` arguments.
  for i = 1, #list, step do
    fn(unpack(list, i, math.min(i + step - 1, #list)))
  end
end

local first_row = 9 + 2 * tonumber(ARGV[8])
local ids, row_pairs, id_pairs = {}, {}, {}
local versions_of, streams, stream_members = {}, {}, {}
local agent_members, topic_members = {}, {}
for r = first_row, #ARGV do
  local row = ARGV[r]
  local offset = head + r - first_row + 1
  local id = string.sub(row, 25, 40)
  local version = struct.unpack('>i8', row)
  local n_stream, n_topic, n_agent = struct.unpack('>I4I2i4', row, 73)
  local stream = string.sub(row, 83, 82 + n_stream)
  local topic = string.sub(row, 83 + n_stream, 82 + n_stream + n_topic)
  ids[#ids + 1] = id
  row_pairs[#row_pairs + 1] = offset
  row_pairs[#row_pairs + 1] = row
  id_pairs[#id_pairs + 1] = id
  id_pairs[#id_pairs + 1] = offset
  local members = stream_members[stream]
  if members == nil then
    members = {}
    stream_members[stream] = members
    streams[#streams + 1] = stream
    versions_of[stream] = {version - 1, version}
  else
    if version ~= versions_of[stream][2] + 1 then
      return {'version', stream, tostring(versions_of[stream][2])}
    end
    versions_of[stream][2] = version
  end
  members[#members + 1] = offset
  members[#members + 1] = offset
  if n_agent >= 0 then
    local agent = string.sub(row, 83 + n_stream + n_topic, 82 + n_stream + n_topic + n_agent)
    agent_members[agent] = agent_members[agent] or {}
    table.insert(agent_members[agent], offset)
    table.insert(agent_members[agent], offset)
  end
  topic_members[topic] = topic_members[topic] or {}
  table.insert(topic_members[topic], offset)
  table.insert(topic_members[topic], offset)
end

local id_key, versions_key = base .. ':ids', base .. ':versions'
local problem = nil
each_chunk(ids, 1000, function(...)
  if problem then return end
  local found = redis.call('HMGET', id_key, ...)
  for i = 1, #found do
    if found[i] then problem = {'duplicate', found[i]} return end
  end
end)
if problem then return problem end
local stored = redis.call('HMGET', versions_key, unpack(streams))
for i = 1, #streams do
  local expected = versions_of[streams[i]][1]
  if tonumber(stored[i] or '0') ~= expected then
    return {'version', streams[i], tostring(stored[i] or '0')}
  end
end

local rows_key = base .. ':rows'
each_chunk(row_pairs, 2000, function(...) redis.call('HSET', rows_key, ...) end)
each_chunk(id_pairs, 2000, function(...) redis.call('HSET', id_key, ...) end)
local final_versions = {}
for _, stream in ipairs(streams) do
  local key = base .. ':s:' .. stream
  each_chunk(stream_members[stream], 2000, function(...) redis.call('ZADD', key, ...) end)
  final_versions[#final_versions + 1] = stream
  final_versions[#final_versions + 1] = versions_of[stream][2]
end
each_chunk(final_versions, 2000, function(...) redis.call('HSET', versions_key, ...) end)
for agent, members in pairs(agent_members) do
  local key = base .. ':a:' .. agent
  each_chunk(members, 2000, function(...) redis.call('ZADD', key, ...) end)
end
for topic, members in pairs(topic_members) do
  local key = base .. ':t:' .. topic
  each_chunk(members, 2000, function(...) redis.call('ZADD', key, ...) end)
  redis.call('SADD', base .. ':topics', topic)
end
redis.call('HSET', base .. ':head', 'offset', ARGV[4], 'chain', ARGV[5], 'recorded_us', ARGV[6])
for c = 9, first_row - 1, 2 do
  redis.call('HSET', base .. ':checkpoints', ARGV[c], ARGV[c + 1])
end
redis.call('ZADD', base .. ':commits', ARGV[6], ARGV[7])
redis.call('PUBLISH', base .. ':appended', ARGV[4])
return {'ok'}
"""

SAVE_VIEW = """
-- Store a projection's state and position together; refuse a position that does not advance.
-- ARGV: base, name, position, packed view ('' to record the position only), reset ('1' or '0').
local tracking = ARGV[1] .. ':tracking'
if ARGV[5] == '1' then
  redis.call('HDEL', tracking, ARGV[2])
end
local current = redis.call('HGET', tracking, ARGV[2])
if current and tonumber(current) >= tonumber(ARGV[3]) then
  return {'conflict', current}
end
redis.call('HSET', tracking, ARGV[2], ARGV[3])
if ARGV[4] ~= '' then
  redis.call('HSET', ARGV[1] .. ':views', ARGV[2], ARGV[4])
end
return {'ok'}
"""

RENEW_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
