"""Redis's hand-kept indexes checked against the rows: what ``verify`` adds on this backend.

The id hash (idempotency), the stream, agent and type sorted sets (filtered reads), the set of
type names and the stream versions are written by the commit script beside each row; nothing
but this check notices one edited, emptied or deleted behind the ledger's back. Each page of rows
costs one pipeline: an ``HMGET`` of the ids and one ``ZRANGEBYSCORE`` over the page's offset range
per index the page touches, compared as sets (an offset missing from an index, or one an index
holds for a row that is not of that key, is named).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

import redis

from ledger.backends.redis.layout import Keys, as_int
from ledger.backends.rows import VerifyRow


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
    pipe = client.pipeline(transaction=False)
    pipe.hmget(keys.ids, [r[4] for r in rows])
    pipe.smembers(keys.topics)
    ordered = sorted(expected)
    for key in ordered:
        pipe.zrangebyscore(key, first, last)
    ids, topics, *indexed = pipe.execute()
    problems: list[tuple[int, str]] = []
    for row, held in zip(rows, ids, strict=True):
        if held is None or as_int(held) != row[0]:
            where = "no offset" if held is None else f"offset {as_int(held)}"
            problems.append((row[0], f"the id index maps this event's id to {where}"))
    known = {t.decode() for t in topics}
    for topic in sorted({r[3] for r in rows} - known):
        problems.append(
            (min(r[0] for r in rows if r[3] == topic), f"type {topic!r} is missing from the type names")
        )
    present = {r[0] for r in rows}
    for key, members in zip(ordered, indexed, strict=True):
        found = {int(m) for m in members}
        for offset in sorted(expected[key] - found):
            problems.append((offset, f"the {names[key]} index is missing this offset"))
        # An offset whose row is gone is the chain's finding (missing); one whose row is
        # there but of another key is this index's.
        for offset in sorted((found - expected[key]) & present):
            problems.append((offset, f"the {names[key]} index holds this offset, whose row is not of it"))
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
