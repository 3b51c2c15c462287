"""Time and ids at the door: aware UTC, microseconds since the epoch, and time-ordered event ids."""

from __future__ import annotations

import itertools
import operator
import os
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID


def new_event_id() -> UUID:
    """Return a new time-ordered (version 7 layout) UUID.

    Time-ordered ids keep the unique index on ``event_id`` append-mostly, which keeps bulk
    inserts fast on large tables; random (v4) ids supplied by callers work too.
    """
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version 7
    value |= ((rand >> 62) & 0xFFF) << 64  # 12 random bits
    value |= 0b10 << 62  # RFC 4122 variant
    value |= rand & ((1 << 62) - 1)
    return UUID(int=value)


def utc_now() -> datetime:
    """Return the current time as an aware UTC datetime (the default clock)."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Return ``value`` as aware UTC; a naive value is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


_ONE_US = timedelta(microseconds=1)


def to_epoch_us(value: datetime) -> int:
    """Return microseconds since 1970-01-01 UTC (exact, also before 1970; naive = UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - EPOCH) // _ONE_US


def to_epoch_us_column(values: Iterable[datetime]) -> Iterator[int]:
    """:func:`to_epoch_us` of many aware datetimes, without a Python call for each.

    For columns of validated event times (always aware): C-level ``map``s of the same
    subtraction and floor division, cheaper per value than calling the function.
    """
    return map(
        operator.floordiv, map(operator.sub, values, itertools.repeat(EPOCH)), itertools.repeat(_ONE_US)
    )


def from_epoch_us(value: int) -> datetime:
    """Return the aware UTC datetime ``value`` microseconds after 1970-01-01 UTC."""
    return EPOCH + timedelta(microseconds=value)
