"""What a projection is: a deterministic fold of stored events, with a portable, digestible state.

A projection folds decoded event dicts in offset order and keeps the offset it has folded up to
(``position``). Its state serialises to bytes (numpy arrays plus canonical JSON) so a runner can
store it with its position in one transaction, and its digest proves two builds equal.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import io
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

import msgspec
import numpy as np
import numpy.typing as npt
import orjson

from ledger import ScanRow, to_epoch_us

Handler = Callable[[int, Any], None]
"""Folds one event: its time (µs) and its decoding (a dict, or the projection's struct for it)."""
Decoder = Callable[[Any], Any]
"""A fold method: called with the event's time (µs since the epoch) and the decoded event."""
Arrays = dict[str, npt.NDArray[Any]]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso_to_us(value: str) -> int:
    """Return microseconds since the epoch for an ISO 8601 UTC timestamp string."""
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def dt_to_us(value: datetime | None) -> int | None:
    """Return microseconds since the epoch (naive = UTC), or ``None``."""
    return None if value is None else to_epoch_us(value)


NO_EVENTS = -(1 << 62)
"""``latest_event_us`` of a projection that has folded nothing."""


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause cyclic garbage collection for a burst of short-lived allocations.

    Folding and explaining allocate many small objects that reference counting frees; in a
    process holding a large heap, collections triggered mid-burst dominated the tail of an
    explanation (``bench.explain``'s p95) and slowed a large rebuild (``bench.rebuild``).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def fold_together(projections: Sequence[Projection], rows: Sequence[ScanRow]) -> None:
    """Fold one page of rows into several projections, decoding each event once.

    Projections at different positions (one resumed from an older save) fold separately.
    """
    if not projections or not rows:
        return
    position = projections[0].position
    if any(p.position != position for p in projections):
        for p in projections:
            p.fold_rows(rows)
        return
    by_type: dict[str, list[tuple[Decoder, Handler]]] = {}
    for p in projections:
        for event_type, handler in p.handlers.items():
            by_type.setdefault(event_type, []).append((p.decoder(event_type), handler))
    # One (decode, fold) pair per event_type: most types have a single handler, called directly
    # on its own decoding; handlers wanting different decodings each get theirs.
    dispatch: dict[str, tuple[Decoder, Handler]] = {}
    for event_type, pairs in by_type.items():
        decoders = {id(d): d for d, _ in pairs}
        if len(decoders) == 1:
            handlers = [h for _, h in pairs]
            dispatch[event_type] = (pairs[0][0], handlers[0] if len(handlers) == 1 else _all_of(handlers))
        else:
            dispatch[event_type] = (_undecoded, _each_decoding(pairs))
    latest = NO_EVENTS
    if rows[0][0] <= position:  # a page overlapping what was folded (rare): skip the overlap
        rows = [r for r in rows if r[0] > position]
    # The loop below runs once per event of a rebuild: no per-event position test, no max().
    for _, event_type, t, state in rows:
        entry = dispatch.get(event_type)
        if entry is not None:
            decode, fold = entry
            fold(t, decode(state))
            if t > latest:  # noqa: PLR1730 - a max() call per event costs more
                latest = t
    if not rows:
        return
    last = rows[-1][0]
    for p in projections:
        p.position = max(p.position, last)
        # An upper bound for each projection (the newest event any of them folded): enough
        # to tell that no folded event lies at or after a report's "now".
        p.latest_event_us = max(p.latest_event_us, latest)


def _undecoded(state: bytes) -> Any:
    return state


def _each_decoding(pairs: list[tuple[Decoder, Handler]]) -> Handler:
    """One handler taking the stored bytes that decodes them for each handler its own way."""

    def each(t: int, state: Any) -> None:
        for decode, handler in pairs:
            handler(t, decode(state))

    return each


@functools.cache
def struct_decoder(struct: type[msgspec.Struct]) -> Decoder:
    """A reusable JSON decoder into ``struct`` (fields it does not name are skipped, unparsed)."""
    return msgspec.json.Decoder(struct).decode


def _all_of(handlers: list[Handler]) -> Handler:
    """One handler that calls each of ``handlers`` in turn."""

    def each(t: int, event: dict[str, Any]) -> None:
        for handler in handlers:
            handler(t, event)

    return each


class Projection(ABC):
    """A deterministic fold of ledger events into state.

    Subclasses set ``name`` (where the state is stored), ``version`` (bump it when the state's
    layout or meaning changes: a stored state of another version is discarded and rebuilt) and
    ``handlers`` (event type → method). Folds read only the event, never a clock or I/O.
    """

    name: ClassVar[str]
    version: ClassVar[int] = 1
    structs: ClassVar[dict[str, type[msgspec.Struct]]] = {}
    """Event types whose handler takes a typed struct of the fields it reads instead of a dict.

    Decoding only those fields skips the rest unparsed (a tool call's result, say): the hot
    types of a rebuild decode faster and are read by attribute, not ``dict.get``.
    """

    def __init__(self) -> None:
        self.position = 0
        self.latest_event_us = NO_EVENTS
        self.handlers: dict[str, Handler] = self._handlers()

    @abstractmethod
    def _handlers(self) -> dict[str, Handler]:
        """Return the event type → fold method map."""

    @property
    def types(self) -> tuple[str, ...]:
        """The event types this projection folds."""
        return tuple(sorted(self.handlers))

    def decoder(self, event_type: str) -> Decoder:
        """How this projection's handler for ``event_type`` wants stored bytes decoded."""
        struct = self.structs.get(event_type)
        return orjson.loads if struct is None else struct_decoder(struct)

    def decoded(self, event_type: str, event: dict[str, Any]) -> Any:
        """An event already decoded as a dict, in the form the handler for ``event_type`` takes."""
        struct = self.structs.get(event_type)
        return event if struct is None else msgspec.convert(event, struct)

    def fold_rows(self, rows: Iterable[ScanRow]) -> None:
        """Fold lean rows (offset order); rows at or below ``position`` are skipped."""
        handlers = {event_type: (self.decoder(event_type), h) for event_type, h in self.handlers.items()}
        position = self.position
        latest = self.latest_event_us
        for offset, event_type, t, state in rows:
            if offset <= position:
                continue
            entry = handlers.get(event_type)
            if entry is not None:
                decode, handler = entry
                handler(t, decode(state))
                latest = max(latest, t)
            position = offset
        self.position = position
        self.latest_event_us = latest

    def fold(self, offset: int, event: dict[str, Any]) -> None:
        """Fold one decoded event at ``offset`` (ignored if already folded)."""
        if offset <= self.position:
            return
        event_type = event["type"]
        handler = self.handlers.get(event_type)
        if handler is not None:
            t = iso_to_us(event["occurred_at"])
            handler(t, self.decoded(event_type, event))
            self.latest_event_us = max(self.latest_event_us, t)
        self.position = offset

    def advance_to(self, offset: int) -> None:
        """Record that every event up to ``offset`` has been seen (none of them matched)."""
        self.position = max(self.position, offset)

    # -- state ------------------------------------------------------------------------------

    @abstractmethod
    def dump(self) -> tuple[dict[str, Any], Arrays]:
        """Return the state as JSON-able metadata and numpy arrays."""

    @abstractmethod
    def load(self, meta: dict[str, Any], arrays: Arrays) -> None:
        """Restore the state from :meth:`dump`'s output."""

    def to_bytes(self) -> bytes:
        """Serialise the state (with name, version and position)."""
        return self.snapshot()[0]

    def snapshot(self) -> tuple[bytes, str]:
        """Return the serialised state and its :meth:`digest`, from a single :meth:`dump`.

        A runner saves both; dumping the state once (a 1M-event state is tens of MB) halves
        the cost of every save.
        """
        meta, arrays = self.dump()
        header = {
            "name": self.name,
            "version": self.version,
            "position": self.position,
            "latest_event_us": self.latest_event_us,
            "meta": meta,
        }
        buf = io.BytesIO()
        np.savez(
            buf,
            allow_pickle=False,
            __header__=np.frombuffer(orjson.dumps(header, option=orjson.OPT_SORT_KEYS), np.uint8),
            **arrays,
        )
        return buf.getvalue(), self._digest_of(meta, arrays)

    @classmethod
    def from_bytes(cls, data: bytes) -> Self | None:
        """Return a projection restored from :meth:`to_bytes`, or ``None`` if incompatible."""
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            header = orjson.loads(npz["__header__"].tobytes())
            if header.get("name") != cls.name or header.get("version") != cls.version:
                return None
            arrays = {k: npz[k] for k in npz.files if k != "__header__"}
        projection = cls()
        projection.load(header["meta"], arrays)
        projection.position = int(header["position"])
        projection.latest_event_us = int(header.get("latest_event_us", NO_EVENTS))
        return projection

    def digest(self) -> str:
        """Return a SHA-256 over the canonical state: equal digests mean equal states.

        The position is left out on purpose: a fold that stopped at the last matching event and
        one that read on past events it ignores hold the same state.
        """
        meta, arrays = self.dump()
        return self._digest_of(meta, arrays)

    def _digest_of(self, meta: dict[str, Any], arrays: Arrays) -> str:
        h = hashlib.sha256()
        h.update(orjson.dumps([self.name, self.version, meta], option=orjson.OPT_SORT_KEYS))
        for key in sorted(arrays):
            a = np.ascontiguousarray(arrays[key])
            h.update(key.encode())
            h.update(a.dtype.str.encode())
            h.update(str(a.shape).encode())
            h.update(a.tobytes())
        return h.hexdigest()
