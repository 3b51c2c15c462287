"""The stored columns beside the chained bytes, checked against them: what ``verify`` adds to the chain.

The hash chain covers each row's offset, stream, version and encoded event. Reads, filters, folds
and idempotency also use columns stored beside those bytes — the type (topic), the event id, the
agent, the event time, the commit time — which a tamperer can edit without touching a link. Each
must say exactly what the chained event says (the commit time, which the event does not carry,
must never go back with the offset: time look-ups binary-search on it).

The check runs a page at a time, in bulk. The encoder always writes ``event_id`` and
``occurred_at`` first (the id and the time's text have fixed places), then ``workflow_id``,
``agent`` and ``type`` for every type whose stream is its workflow's or agent's. So the first 94
bytes of every event become one numpy array: the id's hex digits are compared with the id
column's, the time's digits are parsed (vectorised, exact for every year 1-9999) and compared
with the time column's µs; and the bytes after the time must start with the workflow, agent and
type that the stream, agent and type columns imply (remembered per stream and per agent and
type). Any row the bulk comparison cannot vouch for — a mismatch, an escaped name, a type with a
stream of its own (budgets, breakers, explanations, replays) — is decoded and compared field by
field, which names the column that is wrong.
"""

from __future__ import annotations

import binascii
import operator
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from ledger.backends.rows import VerifyRow
from ledger.codec import decode
from ledger.event_base import LedgerEvent
from ledger.events import EVENT_TYPES
from ledger.timeutil import from_epoch_us, to_epoch_us

_HEAD = 94
"""Bytes of an encoded event that hold its id and time: ``{"event_id":"<36>","occurred_at":"``
(66 bytes), then ``YYYY-MM-DDTHH:MM:SSZ"`` or ``YYYY-MM-DDTHH:MM:SS.ffffffZ"``."""
_ID_KEY, _TIME_KEY = b'{"event_id":"', b'","occurred_at":"'
_first = operator.itemgetter(slice(0, _HEAD))
_prefix, _kind = operator.itemgetter(0), operator.itemgetter(1)
_NEVER = b"\xff"
"""An expected prefix no encoded event starts with: its rows are checked the slow way."""
_ID_DIGITS = [13 + i for i in range(36) if i not in (8, 13, 18, 23)]
_DASHES = [13 + 8, 13 + 13, 13 + 18, 13 + 23]
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

_BASE_STREAM = LedgerEvent.stream
_OWN_STREAM_TYPES = frozenset(
    name for name, cls in EVENT_TYPES.items() if getattr(cls, "stream", None) is not _BASE_STREAM
)
"""Types whose stream is not their workflow's or agent's (budgets, breakers, explanations, …)."""


def _stream_part(stream: str) -> tuple[bytes, str]:
    """What a stream implies an event encodes after its time, up to its agent; and its kind.

    The kind is ``"wf"`` for a workflow's stream, else the stream itself (whose agent part the
    (agent, type, kind) part checks).
    """
    if stream.startswith("wf:"):
        return b'","workflow_id":' + orjson.dumps(stream[3:]) + b',"agent":', "wf"
    return b'","workflow_id":null,"agent":', stream


def _agent_part(agent: str | None, topic: str, kind: str) -> bytes:
    """The encoded agent and type of an event with these columns in a stream of this kind."""
    if topic in _OWN_STREAM_TYPES:
        return _NEVER
    if kind != "wf" and kind != ("ledger" if agent is None else "agent:" + agent):
        return _NEVER  # no event of the base rule is in such a stream
    return b"".join((orjson.dumps(agent), b',"type":"', topic.encode(), b'"'))


class ColumnCheck:
    """Checks pages of rows; remembers the expected encodings of the streams and agents seen."""

    MAX_REMEMBERED = 200_000

    def __init__(self) -> None:
        self._streams: dict[str, tuple[bytes, str]] = {}
        self._agents: dict[tuple[str | None, str, str], bytes] = {}

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
        import numpy as np  # here, not at import: numpy costs every rledger command ~0.1 s

        n = len(states)
        everything = set(range(n))
        if set(map(type, states)) != {bytes} or set(map(len, ids)) != {16}:
            return everything
        joined = b"".join(map(_first, states))
        if len(joined) != n * _HEAD:
            return everything  # an event shorter than any encoder writes
        head = np.frombuffer(joined, dtype=np.uint8).reshape(n, _HEAD)
        ok = (head[:, :13] == np.frombuffer(_ID_KEY, np.uint8)).all(axis=1)
        ok &= (head[:, 49:66] == np.frombuffer(_TIME_KEY, np.uint8)).all(axis=1)
        # The id: its 32 hex digits against the column's bytes in hex, dashes where they go.
        hexed = np.frombuffer(b"".join(map(binascii.hexlify, ids)), np.uint8).reshape(n, 32)
        ok &= (head[:, _ID_DIGITS] == hexed).all(axis=1) & (head[:, _DASHES] == ord("-")).all(axis=1)
        ok &= self._times_match(np, head, np.fromiter(occurred, dtype=np.int64, count=n))
        # After the time: the workflow, agent and type bytes these columns imply (remembered).
        short = head[:, 85] == ord("Z")
        starts = np.where(short, 86, 93).tolist()
        # Remembered per stream (many) and per (agent, type, stream kind) (few), so a page of
        # new workflows costs one small encoding per workflow, not per combination.
        by_stream, by_agent = self._streams, self._agents
        if len(by_stream) > self.MAX_REMEMBERED:
            by_stream.clear()
        for stream in set(streams).difference(by_stream):
            by_stream[stream] = _stream_part(stream)
        parts = list(map(by_stream.__getitem__, streams))
        keys = list(zip(agents, topics, map(_kind, parts), strict=True))
        for key in set(keys).difference(by_agent):
            by_agent[key] = _agent_part(*key)
        expected = map(operator.add, map(_prefix, parts), map(by_agent.__getitem__, keys))
        matched = list(map(bytes.startswith, states, expected, starts))
        ok &= np.array(matched, dtype=bool)
        return {int(i) for i in np.flatnonzero(~ok)}

    @staticmethod
    def _times_match(np: Any, head: Any, occurred: Any) -> Any:
        """Per row: the event's time text is well formed and is the column's µs, exactly.

        Parsed in integers, vectorised (days from the civil date, H. Hinnant's algorithm), so
        every year 1-9999 compares exactly.
        """
        d = head.astype(np.int64) - ord("0")

        def number(first: int, width: int) -> Any:
            value = d[:, first]
            for i in range(first + 1, first + width):
                value = value * 10 + d[:, i]
            return value

        digits = [*range(66, 70), 71, 72, 74, 75, 77, 78, 80, 81, 83, 84]
        short = head[:, 85] == ord("Z")
        ok = ((d[:, digits] >= 0) & (d[:, digits] <= 9)).all(axis=1)
        ok &= (head[:, [70, 73]] == ord("-")).all(axis=1) & (head[:, 76] == ord("T"))
        ok &= (head[:, [79, 82]] == ord(":")).all(axis=1)
        fraction_digits = ((d[:, 86:92] >= 0) & (d[:, 86:92] <= 9)).all(axis=1)
        long_form = (head[:, 85] == ord(".")) & fraction_digits & (head[:, 92] == ord("Z"))
        ok &= np.where(short, head[:, 86] == ord('"'), long_form & (head[:, 93] == ord('"')))
        year, month, day = number(66, 4), number(71, 2), number(74, 2)
        hour, minute, second = number(77, 2), number(80, 2), number(83, 2)
        leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
        valid_month = (month >= 1) & (month <= 12)
        month_days = np.array(_DAYS_IN_MONTH, np.int64)[np.clip(month, 1, 12) - 1] + (leap & (month == 2))
        ok &= (year >= 1) & valid_month & (day >= 1) & (day <= month_days)
        ok &= (hour <= 23) & (minute <= 59) & (second <= 59)
        y = year - (month <= 2)
        era = y // 400
        yoe = y - era * 400
        doy = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
        days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
        fraction = np.where(short, 0, number(86, 6))
        us = ((days * 86400 + hour * 3600 + minute * 60 + second) * 1_000_000) + fraction
        return ok & (us == occurred)


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
