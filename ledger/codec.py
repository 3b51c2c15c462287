"""Validation at the door and the stored encoding of events.

Input (dicts, JSON text, JSON lines or event models) is validated into events, collecting every
problem with its index or line and field, so a rejected batch says exactly what is wrong. The
stored form of an event is its pydantic JSON encoding; those bytes are what the hash chain covers.
"""

from __future__ import annotations

import hashlib
import types
import typing
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Union
from uuid import UUID

import orjson
from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from ledger import limits
from ledger.errors import BatchRejectedError, Problem
from ledger.event_base import LedgerEvent, Redaction, non_finite_field
from ledger.events import EVENT_ADAPTER, EVENT_TYPES, LEGACY_TYPE_NAMES, Event
from ledger.keys.fields import unsealed

DEFAULT_MAX_EVENT_BYTES = 1 << 20
"""Largest encoded event accepted (1 MiB); larger payloads belong in a blob store."""

_KNOWN_TYPES = ", ".join(sorted(EVENT_TYPES))
_REGISTERED = frozenset(EVENT_TYPES.values())

# Annotations whose values can never encode as a bare Infinity or NaN token: a float is
# finite once validated (the models set allow_inf_nan=False); a Decimal encodes as a string.
_FINITE_LEAVES: frozenset[object] = frozenset(
    {type(None), bool, int, float, str, UUID, datetime, Decimal, Redaction}
)


def _allows_non_finite(constraint: object) -> bool:
    """Whether a field constraint (or a ``Field`` inside ``Annotated``) lets Infinity/NaN in."""
    if getattr(constraint, "allow_inf_nan", None) is True:
        return True
    return any(_allows_non_finite(m) for m in getattr(constraint, "metadata", None) or ())


def _always_finite(annotation: object) -> bool:
    """Whether every value valid for ``annotation`` encodes without non-finite tokens."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        base, *constraints = typing.get_args(annotation)
        return not any(_allows_non_finite(c) for c in constraints) and _always_finite(base)
    if origin is Literal:
        return True
    if origin is Union or origin is types.UnionType:
        return all(_always_finite(arg) for arg in typing.get_args(annotation))
    if origin is tuple:
        args = typing.get_args(annotation)
        return len(args) == 2 and args[1] is Ellipsis and _always_finite(args[0])
    return annotation in _FINITE_LEAVES


def _holds_free_form(model: type[LedgerEvent]) -> bool:
    """Whether instances of ``model`` may hold a non-finite float (in a free-form field)."""
    if model.model_config.get("allow_inf_nan", True):
        return True
    return not all(
        _always_finite(f.annotation) and not any(_allows_non_finite(m) for m in f.metadata)
        for f in model.model_fields.values()
    )


# Only these types' encodings need the non-finite check: the two substring scans are a large
# share of validate_and_encode, and most events have no free-form field (bench/README.md, ingest).
_SCANNED = frozenset(t for t in _REGISTERED if _holds_free_form(t))


def encode(event: LedgerEvent) -> bytes:
    """Return the stored (and hashed) JSON encoding of ``event``."""
    return event.__pydantic_serializer__.to_json(event)


def decode(state: bytes | memoryview, topic: str | None = None) -> Event:
    """Return the event stored as ``state`` (legacy names upcast; sealed fields read as erased)."""
    if topic is not None and topic in LEGACY_TYPE_NAMES:
        data = orjson.loads(state)
        data["type"] = LEGACY_TYPE_NAMES[topic]
        return EVENT_ADAPTER.validate_python(data)
    raw = bytes(state) if isinstance(state, memoryview) else state
    if b'"$enc"' in raw:
        return EVENT_ADAPTER.validate_python(unsealed(orjson.loads(raw)))
    return EVENT_ADAPTER.validate_json(raw)


def payload_digest(state: bytes) -> str:
    """Digest of what an event says, for idempotency: all fields but id and time.

    A retried append may re-stamp ``occurred_at`` (it defaults to now), so the time is not
    part of "the same event"; every other field is.
    """
    data = orjson.loads(state)
    data.pop("event_id", None)
    data.pop("occurred_at", None)
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _problems_from(error: ValidationError, *, index: int | None, line: int | None) -> list[Problem]:
    problems = []
    for err in error.errors(include_url=False):
        kind = err["type"]
        loc = [str(part) for part in err["loc"]]
        if kind == "union_tag_invalid":
            tag = err.get("ctx", {}).get("tag", "?")
            problems.append(
                Problem(index, line, "type", f"unknown event type '{tag}' (known: {_KNOWN_TYPES})")
            )
            continue
        if kind == "union_tag_not_found":
            problems.append(Problem(index, line, "type", "missing 'type' discriminator"))
            continue
        if kind == "json_invalid":
            problems.append(Problem(index, line, None, f"malformed JSON: {err['msg']}"))
            continue
        if kind in ("model_type", "model_attributes_type", "dict_type") and len(loc) <= 1:
            problems.append(Problem(index, line, None, "an event must be a JSON object"))
            continue
        # The first location element is the discriminator tag; drop it from the field path.
        if loc and loc[0] in EVENT_TYPES:
            loc = loc[1:]
        field = ".".join(loc) or None
        msg = err["msg"]
        if kind == "missing":
            msg = "required field is missing"
        elif kind == "extra_forbidden":
            msg = "unknown field"
        elif "input" in err and kind not in ("missing",):
            shown = repr(err["input"])
            msg = f"{msg} (got {shown[:60]}{'…' if len(shown) > 60 else ''})"
        problems.append(Problem(index, line, field, msg))
    return problems


def _encode_checked(
    event: LedgerEvent, max_bytes: int, index: int | None, line: int | None
) -> tuple[bytes, Problem | None]:
    """Encode an event and check it: size, finite numbers, what reads need (:mod:`ledger.limits`)."""
    try:
        state = encode(event)
    except PydanticSerializationError as exc:
        return b"", _unencodable(event, exc, index, line)
    if len(state) > max_bytes:
        return state, Problem(
            index, line, None, f"encoded event is {len(state)} bytes, over the limit of {max_bytes} bytes"
        )
    # Non-finite floats in free-form fields encode as bare Infinity/NaN tokens (the models'
    # ser_json_inf_nan="constants"), which standard JSON parsers reject. The substring test is
    # a cheap filter; a real parse confirms (a string that merely says "NaN" is fine).
    if b"Infinity" in state or b"NaN" in state:
        try:
            orjson.loads(state)
        except orjson.JSONDecodeError:
            where = non_finite_field(event) or "a value"
            return state, Problem(index, line, where, "not a finite number (JSON has no Infinity or NaN)")
    if limits.may_be_too_deep(state):
        deep = limits.too_deep(event)
        if deep is not None:
            return state, Problem(index, line, deep, _TOO_DEEP)
    if _NUL in state:
        named = limits.nul_in_named_field(event)
        if named is not None:
            return state, Problem(index, line, named, _NUL_IN_NAME)
    return state, None


_NUL = b"\\u0000"
"""How JSON spells U+0000 (a string that merely says it, escaped, is filtered out by the walk)."""
_TOO_DEEP = (
    f"nested deeper than {limits.MAX_DEPTH} levels (the event object is level 1): "
    "an event this deep could not be read back"
)
_NUL_IN_NAME = (
    "contains a NUL character (U+0000), which no field but the free-form values may hold "
    "(PostgreSQL's text columns cannot store it)"
)
_NOT_UNICODE = (
    "text that is not valid Unicode (a lone surrogate) has no UTF-8 encoding, so it cannot be stored"
)


def _unencodable(event: LedgerEvent, exc: Exception, index: int | None, line: int | None) -> Problem:
    """Say which field made an event impossible to encode (and why)."""
    where = limits.not_unicode(event)
    if where is not None:
        return Problem(index, line, where, _NOT_UNICODE)
    where = limits.too_deep(event)
    if where is not None:
        return Problem(index, line, where, _TOO_DEEP)
    return Problem(index, line, None, f"cannot be encoded as JSON: {exc}")


def _as_json(item: Mapping[str, Any]) -> bytes:
    """A mapping as JSON, for strict validation: times, ids and decimals in their JSON spelling."""
    return orjson.dumps(dict(item), default=_json_default)


def _unrepresentable(item: Mapping[str, Any], exc: Exception, index: int | None, line: int | None) -> Problem:
    """Say which field of a mapping JSON cannot hold (and why)."""
    where = limits.not_unicode(item)
    if where is not None:
        return Problem(index, line, where, _NOT_UNICODE)
    where = limits.too_deep_in(item)
    if where is not None:
        return Problem(index, line, where, _TOO_DEEP)
    return Problem(index, line, None, f"not representable as JSON: {exc}")


def _too_deep_json(text: str | bytes | bytearray, error: ValidationError) -> str | None:
    """The path of the too-deep value of JSON text the parser refused for its nesting, if so."""
    if not any("recursion limit" in str(e.get("msg", "")) for e in error.errors(include_url=False)):
        return None
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return limits.too_deep_in(data) or "(the event)"


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _validate(
    item: LedgerEvent | Mapping[str, Any] | str | bytes,
    *,
    index: int | None,
    line: int | None,
    max_bytes: int,
) -> tuple[LedgerEvent | None, bytes, list[Problem]]:
    try:
        if isinstance(item, LedgerEvent):
            if type(item) not in _REGISTERED:
                return (
                    None,
                    b"",
                    [
                        Problem(
                            index,
                            line,
                            "type",
                            f"{type(item).__name__} is not a registered event class "
                            f"(known: {_KNOWN_TYPES}); it could not be read back",
                        )
                    ],
                )
            event: LedgerEvent = item
        elif isinstance(item, str | bytes | bytearray):
            # Strict at the door: "yes" is not a boolean, "120" is not a number. JSON's own
            # spellings of times, ids and decimals (strings) are still what strict JSON accepts.
            try:
                event = EVENT_ADAPTER.validate_json(item, strict=True)
            except ValidationError as exc:
                deep = _too_deep_json(item, exc)
                if deep is not None:
                    return None, b"", [Problem(index, line, deep, _TOO_DEEP)]
                raise
        elif isinstance(item, Mapping):
            # A mapping is judged as the JSON it stands for (times, ids, decimals as objects or
            # as their JSON strings), with the same strict rules as a JSON line.
            try:
                data = _as_json(item)
            except TypeError as exc:  # a value JSON cannot hold: the event could not be stored
                return None, b"", [_unrepresentable(item, exc, index, line)]
            try:
                event = EVENT_ADAPTER.validate_json(data, strict=True)
            except ValidationError:
                where = limits.too_deep_in(item)
                if where is not None:  # the parser's own limit: say where, not "malformed"
                    return None, b"", [Problem(index, line, where, _TOO_DEEP)]
                raise
        else:
            return (
                None,
                b"",
                [
                    Problem(
                        index, line, None, f"expected an event, a mapping or JSON, got {type(item).__name__}"
                    )
                ],
            )
    except ValidationError as exc:
        return None, b"", _problems_from(exc, index=index, line=line)
    state, problem = _encode_checked(event, max_bytes, index, line)
    if problem is not None:
        return None, b"", [problem]
    # A registered event instance is valid: LedgerEvent closes model_construct and
    # model_copy(update=...) to unvalidated values, so no read-back check is needed here.
    return event, state, []


def validate_one(
    item: LedgerEvent | Mapping[str, Any] | str | bytes,
    *,
    index: int | None = None,
    line: int | None = None,
    max_bytes: int = DEFAULT_MAX_EVENT_BYTES,
) -> tuple[LedgerEvent | None, list[Problem]]:
    """Validate one input item into an event, returning the event or its problems."""
    event, _, problems = _validate(item, index=index, line=line, max_bytes=max_bytes)
    return event, problems


def validate_batch(
    items: Iterable[LedgerEvent | Mapping[str, Any] | str | bytes],
    *,
    max_bytes: int = DEFAULT_MAX_EVENT_BYTES,
) -> list[LedgerEvent]:
    """Validate a whole batch; raise :class:`BatchRejectedError` listing every problem."""
    return validate_and_encode(items, max_bytes=max_bytes)[0]


def validate_and_encode(
    items: Iterable[LedgerEvent | Mapping[str, Any] | str | bytes],
    *,
    max_bytes: int = DEFAULT_MAX_EVENT_BYTES,
) -> tuple[list[LedgerEvent], list[bytes]]:
    """Validate a whole batch and return the events with their stored encodings.

    Raises :class:`BatchRejectedError` listing every problem.
    """
    items = list(items)  # a copy: the caller may reuse its list while an async append waits
    # Fast path for the common input, registered event models (valid by construction): encode
    # them all and accept the batch when every encoding is within the limit and none of the
    # types with free-form fields wrote a non-finite-number token. Anything else — including
    # a batch failing those cheap tests — goes through the full checks, which say what is wrong.
    if _REGISTERED.issuperset(map(type, items)):
        try:
            states = [e.__pydantic_serializer__.to_json(e) for e in items]  # type: ignore[union-attr]
        except PydanticSerializationError:
            states = None  # one cannot be encoded: the full checks say which and why
        scanned = _SCANNED
        # Inlined filters (a call per event shows in bench.ingest): NUL in one scan of the
        # whole batch; nesting only where there are enough brackets for it (an event nested
        # MAX_DEPTH deep has at least twice as many bytes).
        depth = limits.MAX_DEPTH
        if (
            states is not None
            and max(map(len, states), default=0) <= max_bytes
            and _NUL not in b"".join(states)
            and not any(
                type(e) in scanned
                and (
                    b"Infinity" in s
                    or b"NaN" in s
                    or (len(s) >= 2 * depth and s.count(b"[") + s.count(b"{") >= depth)
                )
                for e, s in zip(items, states, strict=True)
            )
        ):
            return items, states  # type: ignore[return-value]
    events: list[LedgerEvent] = []
    states = []
    problems: list[Problem] = []
    for index, item in enumerate(items):
        event, state, found = _validate(item, index=index, line=None, max_bytes=max_bytes)
        if event is None:
            problems.extend(found)
            continue
        events.append(event)
        states.append(state)
    if problems:
        raise BatchRejectedError(problems, len(items))
    return events, states


def validate_lines(
    lines: Iterable[str | bytes],
    *,
    max_bytes: int = DEFAULT_MAX_EVENT_BYTES,
) -> tuple[list[LedgerEvent], list[Problem], int]:
    """Validate JSON lines (blank lines skipped); return events, problems and lines read."""
    events: list[LedgerEvent] = []
    problems: list[Problem] = []
    count = 0
    for number, raw in enumerate(lines, start=1):
        count = number
        text = raw.strip()
        if not text:
            continue
        event, found = validate_one(text, line=number, max_bytes=max_bytes)
        if event is None:
            problems.extend(found)
        else:
            events.append(event)
    return events, problems, count
