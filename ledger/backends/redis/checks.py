"""Redis's hand-kept indexes checked against the rows: what ``verify`` adds on this backend.

The id hash (idempotency), the stream, agent and type sorted sets (filtered reads), the set of
type names and the stream versions are written by the commit script beside each row; nothing
but this check notices one edited, emptied or deleted behind the ledger's back. Each page of rows
costs one pipeline: an ``HMGET`` of the ids and one ``ZRANGEBYSCORE`` over the page's offset range
per index the page touches, checked on the server by :data:`CHECK_INDEXES` (one script call
per page, replying with the mismatches only: the client's reply parsing, not Redis, was the cost
of fetching every index range). An offset missing from an index, or one an index holds for a row
that is not of that key, is named.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

import redis

from ledger.backends.redis.layout import Keys, as_int
from ledger.backends.rows import VerifyRow

CHECK_INDEXES = """
-- KEYS: none (every key shares the ledger's prefix, like the other scripts' keys).
-- ARGV: the id index key, the rows' event ids (16 bytes each, concatenated), their offsets
-- (comma-separated), the first and last offset, then per index key: the key and the offsets it
-- must hold (comma-separated, all in [first, last]). Replies with a flat list of triples:
-- ('id', offset, offset held or '') for each id not mapped to its row, and (key number from 1,
-- 'missing'|'extra', offset) for each offset an index lacks or holds beyond those.
local out = {}
local ids, n = ARGV[2], 0
for offset in string.gmatch(ARGV[3], '%d+') do
  local held = redis.call('HGET', ARGV[1], string.sub(ids, n * 16 + 1, n * 16 + 16))
  if held ~= offset then
    out[#out + 1] = 'id'; out[#out + 1] = offset; out[#out + 1] = held or ''
  end
  n = n + 1
end
local first, last = ARGV[4], ARGV[5]
local k = 0
for i = 6, #ARGV, 2 do
  local key = ARGV[i]
  k = k + 1
  local expected, count, missing = {}, 0, 0
  for offset in string.gmatch(ARGV[i + 1], '%d+') do
    expected[offset] = true
    count = count + 1
    if not redis.call('ZSCORE', key, offset) then
      missing = missing + 1
      out[#out + 1] = k; out[#out + 1] = 'missing'; out[#out + 1] = offset
    end
  end
  if redis.call('ZCOUNT', key, first, last) > count - missing then
    for _, member in ipairs(redis.call('ZRANGEBYSCORE', key, first, last)) do
      if not expected[member] then
        out[#out + 1] = k; out[#out + 1] = 'extra'; out[#out + 1] = member
      end
    end
  end
end
return out
"""


def index_problems(client: redis.Redis, keys: Keys, rows: Sequence[VerifyRow]) -> list[tuple[int, str]]:
    """Return (offset, detail) for each index entry that disagrees with ``rows`` (one page)."""
    if not rows:
        return []
    first, last = rows[0][0], rows[-1][0]
    expected: dict[str, set[int]] = defaultdict(set)
    names: dict[str, str] = {}
    for offset, stream, _v, topic, _id, agent, *_ in rows:
        for key, name in (
            (keys.stream(stream), f"stream {stream!r}"),
            (keys.topic(topic), f"type {topic!r}"),
            *(((keys.agent(agent), f"agent {agent!r}"),) if agent is not None else ()),
        ):
            expected[key].add(offset)
            names[key] = name
    ordered = sorted(expected)
    # Offsets travel as one comma-separated string per key and ids as one blob: a few large
    # arguments instead of one per offset (the client encodes each argument in Python).
    args: list[bytes | str | int] = [
        keys.ids,
        b"".join(r[4] for r in rows),
        ",".join(str(r[0]) for r in rows),
        first,
        last,
    ]
    for key in ordered:
        args += [key, ",".join(map(str, sorted(expected[key])))]
    pipe = client.pipeline(transaction=False)
    pipe.smembers(keys.topics)
    pipe.eval(CHECK_INDEXES, 0, *args)
    topics, mismatches = pipe.execute()
    problems: list[tuple[int, str]] = []
    known = {t.decode() for t in topics}
    for topic in sorted({r[3] for r in rows} - known):
        first_row = min(r[0] for r in rows if r[3] == topic)
        problems.append((first_row, f"type {topic!r} is missing from the type names"))
    present = {r[0] for r in rows}
    for what, kind, member in zip(mismatches[::3], mismatches[1::3], mismatches[2::3], strict=True):
        if what == b"id":
            offset = int(kind)
            where = f"offset {int(member)}" if member else "no offset"
            problems.append((offset, f"the id index maps this event's id to {where}"))
            continue
        name, offset = names[ordered[int(what) - 1]], int(member)
        if kind == b"missing":
            problems.append((offset, f"the {name} index is missing this offset"))
        elif offset in present:
            # An offset whose row is gone is the chain's finding (missing); one whose row is
            # there but of another key is this index's.
            problems.append((offset, f"the {name} index holds this offset, whose row is not of it"))
    return problems


def version_problems(
    client: redis.Redis, keys: Keys, last_versions: Mapping[str, tuple[int, int]]
) -> list[tuple[int, str]]:
    """Return (offset, detail) for each stream whose stored version is not its last row's.

    ``last_versions`` maps each stream seen to (offset, version) of its last row.
    """
    streams = sorted(last_versions)
    problems = []
    for start in range(0, len(streams), 5000):
        chunk = streams[start : start + 5000]
        for stream, held in zip(chunk, client.hmget(keys.versions, chunk), strict=True):
            offset, version = last_versions[stream]
            if held is None or as_int(held) != version:
                problems.append(
                    (
                        offset,
                        f"stream {stream!r} is stored at version {as_int(held)} "
                        f"but its last row is version {version}",
                    )
                )
    return problems
