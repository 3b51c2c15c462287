"""The stored columns beside the chained bytes, checked against them: what ``verify`` adds to the chain.

The hash chain covers each row's offset, stream, version and encoded event. Reads, filters, folds
and idempotency also use columns stored beside those bytes — the type (topic), the event id, the
agent, the event time, the commit time — which a tamperer can edit without touching a link. Each
must say exactly what the chained event says (the commit time, which the event does not carry,
must never go back with the offset: time look-ups binary-search on it).

The check runs a page at a time. Fast path: the encoder always writes ``event_id`` and
``occurred_at`` first, then ``workflow_id``, ``agent`` and ``type`` for every type whose stream is
its workflow's or agent's; so one ``partition`` at the workflow key cuts each event into a head,
where the id and the time have fixed places, and the rest; whole columns are compared at once
in C (``map`` and tuple equality), the expected ``workflow_id``/``agent``/``type`` bytes
remembered per (stream, agent, type). Any row the bulk
comparison cannot vouch for — a mismatch, an escaped name, a type with a stream of its own, a
time far from now — is decoded and compared field by field, which names the column that is wrong.
"""

from __future__ import annotations

import binascii
import itertools
import operator
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import orjson

from ledger.backends.rows import VerifyRow
from ledger.codec import decode
from ledger.event_base import LedgerEvent
from ledger.events import EVENT_TYPES
from ledger.timeutil import from_epoch_us, to_epoch_us

_ID_KEY, _TIME_KEY, _WORKFLOW_KEY = b'{"event_id":"', b'","occurred_at":"', b'","workflow_id":'
_cut = operator.methodcaller("partition", _WORKFLOW_KEY)
_head, _rest = operator.itemgetter(0), operator.itemgetter(2)
_id_key, _id_text = operator.itemgetter(slice(0, 13)), operator.itemgetter(slice(13, 49))
_time_key, _time_text_of = operator.itemgetter(slice(49, 66)), operator.itemgetter(slice(66, None))
_dashless = operator.methodcaller("replace", b"-", b"")
_timestamp = operator.methodcaller("timestamp")
_NEVER = b"\xff"
"""An expected prefix no encoded event starts with: its rows are checked the slow way."""
_EXACT_US = 4 * 10**15
"""Event times within this many µs of 1970 (years ~1843-2096) compare exactly as float seconds.

``datetime.timestamp()`` and ``µs / 10**6`` both round the same rational number correctly, and
below 2**52 · 10**-6 s distinct µs values give distinct doubles; other times go the slow way."""

_BASE_STREAM = LedgerEvent.stream
_OWN_STREAM_TYPES = frozenset(
    name for name, cls in EVENT_TYPES.items() if getattr(cls, "stream", None) is not _BASE_STREAM
)
"""Types whose stream is not their workflow's or agent's (budgets, breakers, explanations, …)."""


def _expected_rest(stream: str, agent: str | None, topic: str) -> bytes:
    """What an event of these columns encodes after its workflow key: workflow, agent, type."""
    if topic in _OWN_STREAM_TYPES:
        return _NEVER
    if stream.startswith("wf:"):
        workflow = orjson.dumps(stream[3:])
    elif (stream == "ledger" and agent is None) or (agent is not None and stream == "agent:" + agent):
        workflow = b"null"
    else:
        return _NEVER  # no event of the base rule is in such a stream
    return b"".join((workflow, b',"agent":', orjson.dumps(agent), b',"type":"', topic.encode(), b'"'))


class ColumnCheck:
    """Checks pages of rows; remembers the expected encodings of (stream, agent, type) seen."""

    MAX_REMEMBERED = 200_000

    def __init__(self) -> None:
        self._rests: dict[tuple[str, str | None, str], bytes] = {}

    def problems(self, rows: Sequence[VerifyRow]) -> list[tuple[int, str]]:
        """Return (offset, detail) for every stored column that disagrees with its chained event.

        ``rows`` are consecutive rows in offset order. Rows whose bytes are not bytes (an edit
        that changed a SQLite value's storage type) are the chain check's finding, skipped here.
        """
        if not rows:
            return []
        _o, streams, _v, topics, ids, agents, occurred, recorded, states, _c = zip(*rows, strict=True)
        suspects = self._suspects(streams, topics, ids, agents, occurred, states)
        problems = [(rows[i][0], d) for i in sorted(suspects) for d in row_problems(rows[i])]
        if not all(map(operator.le, recorded, recorded[1:])):
            problems += [
                (
                    rows[i + 1][0],
                    "recorded_at goes back in time (commit times never decrease with the offset)",
                )
                for i in range(len(rows) - 1)
                if recorded[i + 1] < recorded[i]
            ]
        problems.sort(key=operator.itemgetter(0))
        return problems

    def _suspects(
        self,
        streams: tuple[str, ...],
        topics: tuple[str, ...],
        ids: tuple[bytes, ...],
        agents: tuple[str | None, ...],
        occurred: tuple[int, ...],
        states: tuple[bytes, ...],
    ) -> set[int]:
        """Indexes of the rows the bulk comparison cannot vouch for (each then checked alone)."""
        everything = set(range(len(states)))
        if set(map(type, states)) != {bytes}:
            return everything
        cuts = list(map(_cut, states))
        heads = list(map(_head, cuts))
        if list(map(_id_key, heads)).count(_ID_KEY) != len(heads) or list(map(_time_key, heads)).count(
            _TIME_KEY
        ) != len(heads):
            return everything
        try:
            # The id and time have fixed places before the workflow key; a time that does not
            # parse means the key was not where an encoder puts it.
            id_texts = tuple(map(_dashless, map(_id_text, heads)))
            times = tuple(
                map(_timestamp, map(datetime.fromisoformat, map(bytes.decode, map(_time_text_of, heads))))
            )
        except (ValueError, UnicodeDecodeError):
            return everything
        rests = list(map(_rest, cuts))
        suspects: set[int] = set()
        if id_texts != tuple(map(binascii.hexlify, ids)):
            suspects.update(
                i for i, (a, b) in enumerate(zip(id_texts, map(binascii.hexlify, ids), strict=True)) if a != b
            )
        if max(occurred) >= _EXACT_US or min(occurred) <= -_EXACT_US:
            suspects.update(i for i, us in enumerate(occurred) if abs(us) >= _EXACT_US)
        expected_times = tuple(map(operator.truediv, occurred, itertools.repeat(10**6)))
        if times != expected_times:
            suspects.update(i for i, (a, b) in enumerate(zip(times, expected_times, strict=True)) if a != b)
        keys = list(zip(streams, agents, topics, strict=True))
        remembered = self._rests
        if len(remembered) > self.MAX_REMEMBERED:
            remembered.clear()
        for key in set(keys).difference(remembered):
            remembered[key] = _expected_rest(*key)
        matched = list(map(bytes.startswith, rests, map(remembered.__getitem__, keys)))
        if not all(matched):
            suspects.update(i for i, m in enumerate(matched) if not m)
        return suspects


def column_problems(rows: Sequence[VerifyRow]) -> list[tuple[int, str]]:
    """Return (offset, detail) for every stored column of ``rows`` that disagrees with its event."""
    return ColumnCheck().problems(rows)


def row_problems(row: VerifyRow) -> list[str]:
    """Compare one row's columns with its decoded event, naming each column that disagrees."""
    _offset, stream, _version, topic, event_id, agent, occurred_us, _recorded, state, _chain = row
    if not isinstance(state, bytes):
        return []  # reported by the chain check (wrong storage type)
    try:
        data = orjson.loads(state)
    except orjson.JSONDecodeError:
        return []  # not an event: only an edit of the chained bytes does this, which the chain reports
    if not isinstance(data, dict):
        return []
    problems = []
    stored_type = data.get("type")
    if stored_type != topic:
        problems.append(f"type column says {topic!r} but the chained event is a {stored_type!r}")
    try:
        chained_id: UUID | None = UUID(str(data.get("event_id")))
    except ValueError:
        chained_id = None
    if chained_id is None or chained_id.bytes != bytes(event_id):
        held = str(UUID(bytes=bytes(event_id))) if len(event_id) == 16 else bytes(event_id).hex()
        problems.append(f"event_id column says {held} but the chained event's is {data.get('event_id')}")
    if data.get("agent") != agent:
        problems.append(f"agent column says {agent!r} but the chained event's is {data.get('agent')!r}")
    try:
        chained_us: int | None = to_epoch_us(datetime.fromisoformat(str(data.get("occurred_at"))))
    except (ValueError, OverflowError):
        chained_us = None
    if chained_us != occurred_us:
        problems.append(
            f"occurred_at column says {_time_text(occurred_us)} but the chained event's is "
            f"{data.get('occurred_at')}"
        )
    try:
        chained_stream: str | None = decode(state, topic if stored_type == topic else None).stream
    except ValueError:
        chained_stream = None  # no longer an event of a known type: the type check said so
    if chained_stream is not None and chained_stream != stream:
        problems.append(f"stream column says {stream!r} but the chained event belongs to {chained_stream!r}")
    return problems


def _time_text(us: int) -> str:
    try:
        return from_epoch_us(us).isoformat()
    except OverflowError:
        return f"{us} µs since 1970"


__all__ = ["ColumnCheck", "column_problems", "row_problems"]
