"""Tool results (and outcomes) with no JSON form: how they are stored, and what a replay serves back.

A tool may return anything; the ledger stores JSON. :func:`to_json_value` keeps JSON values as
they are (tuples become arrays, as JSON has no tuples) and stores every other value as an object
with a type marker, ``{"__ledger_value__": KIND, …}``:

======================  =====================================================  ==================
value                   stored as                                              a replay serves
======================  =====================================================  ==================
bytes, bytearray        ``bytes``: ``base64`` of the bytes                     the bytes
float NaN / ±infinity   ``float``: ``"nan"``, ``"inf"`` or ``"-inf"``          the float
datetime, date          ``datetime`` / ``date``: ISO 8601 text                 the datetime, date
Decimal, UUID           ``decimal`` / ``uuid``: the text                       the Decimal, UUID
set, frozenset          ``set`` / ``frozenset``: ``items``                     the set
dict with other keys    ``dict``: ``items`` as ``[key, value]`` pairs          the dict
pydantic model          ``pydantic``: ``class``, ``value`` (model_dump json)   the model
dataclass instance      ``dataclass``: ``class``, ``fields`` (each encoded)    the dataclass
Enum member             ``enum``: ``class``, ``value``                         the member
anything else           ``repr``: ``class``, ``repr`` (first 2000 chars)       nothing (see below)
======================  =====================================================  ==================

A pydantic model, dataclass or enum is rebuilt from its class (``module:qualname``) only if
that module is already imported in the replaying process: stored data never makes a replay
import a module (a tampered ledger cannot run import-time code). A ``repr`` — or a class that
is not loaded — is not replayable as a value: serving it raises :class:`NotReplayableValueError`
and the replay reports a divergence at that call, rather than hand the orchestrator a stand-in.
Recording never fails on a value: the user's run gets the real value back either way.

An integration adds a kind of its own for a framework's type with :func:`register_value_kind`
(LangGraph's ``Command`` and ``Send``: ``reliability.integrations.langgraph.commands``): its
encoder stores the value's fields (each encoded as above), its decoder rebuilds the value; a
stored kind no loaded integration registered is not replayable, as an unknown kind always is.
"""

from __future__ import annotations

import base64
import dataclasses
import math
import sys
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

MARK = "__ledger_value__"
"""The key that marks an encoded value (a user's dict holding it is itself encoded)."""

REPR_LIMIT = 2000
"""At most this many characters of an unencodable value's repr are stored."""

_PLAIN = (str, int, bool, type(None))

_BUILTIN_KINDS = frozenset(
    [
        "bytes",
        "float",
        "datetime",
        "date",
        "decimal",
        "uuid",
        "set",
        "frozenset",
        "dict",
        "pydantic",
        "dataclass",
        "enum",
        "repr",
    ]
)
_ENCODERS: dict[type, tuple[str, Callable[[Any], dict[str, Any]]]] = {}
_DECODERS: dict[str, Callable[[dict[str, Any]], Any]] = {}


def register_value_kind(
    kind: str,
    cls: type,
    encode: Callable[[Any], dict[str, Any]],
    decode: Callable[[dict[str, Any]], Any],
) -> None:
    """Store instances of exactly ``cls`` as ``{MARK: kind, **encode(value)}``; rebuild with ``decode``.

    ``encode`` returns the value's fields as JSON (encoding nested values with
    :func:`to_json_value`); ``decode`` gets the stored object back and rebuilds the value (nested
    values with :func:`from_json_value`). An encoder that raises falls back to the generic forms,
    so recording never fails; a decoder that raises makes the value not replayable.
    """
    if kind in _BUILTIN_KINDS:
        raise ValueError(f"value kind {kind!r} is built in: an integration's kind needs a name of its own")
    _ENCODERS[cls] = (kind, encode)
    _DECODERS[kind] = decode


class NotReplayableValueError(LookupError):
    """A recorded value that a replay cannot hand back as the value it was (a repr, or a class not loaded)."""

    def __init__(self, stored: dict[str, Any], reason: str) -> None:
        self.stored = stored
        self.kind = str(stored.get(MARK))
        self.class_name = stored.get("class")
        super().__init__(f"not replayable as a value: {reason}")


def _class_path(value: Any) -> str:
    kind = type(value)
    return f"{kind.__module__}:{kind.__qualname__}"


def to_json_value(value: Any) -> Any:
    """``value`` as the ledger stores it: JSON as is, anything else marked (see the module docstring)."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {MARK: "float", "value": repr(value)}
    if isinstance(value, list | tuple):
        return [to_json_value(v) for v in value]
    if isinstance(value, dict):
        if MARK not in value and all(isinstance(k, str) for k in value):
            return {k: to_json_value(v) for k, v in value.items()}
        return {MARK: "dict", "items": [[to_json_value(k), to_json_value(v)] for k, v in value.items()]}
    return _marked(value)


def _marked(value: Any) -> dict[str, Any]:
    custom = _ENCODERS.get(type(value)) if _ENCODERS else None
    if custom is not None:
        try:
            return {MARK: custom[0], **custom[1](value)}
        except Exception:  # a value its integration cannot encode is still recorded, generically
            pass
    if isinstance(value, bytes | bytearray | memoryview):
        return {MARK: "bytes", "base64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, datetime | date):
        return {MARK: "datetime" if isinstance(value, datetime) else "date", "iso": value.isoformat()}
    if isinstance(value, Decimal | UUID):
        return {MARK: "decimal" if isinstance(value, Decimal) else "uuid", "value": str(value)}
    if isinstance(value, set | frozenset):
        kind = "frozenset" if isinstance(value, frozenset) else "set"
        return {MARK: kind, "items": [to_json_value(v) for v in value]}
    if isinstance(value, Enum):
        return {MARK: "enum", "class": _class_path(value), "value": to_json_value(value.value)}
    try:
        if hasattr(value, "model_dump") and hasattr(type(value), "model_validate"):
            return {MARK: "pydantic", "class": _class_path(value), "value": value.model_dump(mode="json")}
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = {f.name: to_json_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
            return {MARK: "dataclass", "class": _class_path(value), "fields": fields}
    except Exception:  # a model that cannot dump itself is still recorded, as its repr
        pass
    return {MARK: "repr", "class": _class_path(value), "repr": _repr(value)}


def _repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # a broken __repr__ must not break the user's run
        text = f"<{type(value).__name__}: repr failed: {type(exc).__name__}>"
    return text[:REPR_LIMIT]


def _loaded_class(stored: dict[str, Any]) -> Any:
    path = str(stored.get("class", ""))
    module_name, _, qualname = path.partition(":")
    module = sys.modules.get(module_name)  # never imported here: see the module docstring
    found: Any = module
    for part in qualname.split(".") if module is not None and qualname else ():
        found = getattr(found, part, None)
    if module is None or found is None or not isinstance(found, type):
        raise NotReplayableValueError(stored, f"class {path} is not loaded in this process")
    return found


def from_json_value(stored: Any) -> Any:
    """The value :func:`to_json_value` stored, rebuilt; raises :class:`NotReplayableValueError`."""
    if isinstance(stored, list):
        return [from_json_value(v) for v in stored]
    if not isinstance(stored, dict):
        return stored
    kind = stored.get(MARK)
    if kind is None:
        return {k: from_json_value(v) for k, v in stored.items()}
    if kind == "bytes":
        return base64.b64decode(stored["base64"])
    if kind == "float":
        return float(stored["value"])
    if kind in ("datetime", "date"):
        return (datetime if kind == "datetime" else date).fromisoformat(stored["iso"])
    if kind in ("decimal", "uuid"):
        return Decimal(stored["value"]) if kind == "decimal" else UUID(stored["value"])
    if kind in ("set", "frozenset"):
        items = [from_json_value(v) for v in stored["items"]]
        return set(items) if kind == "set" else frozenset(items)
    if kind == "dict":
        return {from_json_value(k): from_json_value(v) for k, v in stored["items"]}
    if kind == "repr":
        raise NotReplayableValueError(
            stored, f"a {stored.get('class')} recorded as its repr {stored.get('repr')!r}"
        )
    decode = _DECODERS.get(kind)
    if decode is not None:
        try:
            return decode(stored)
        except NotReplayableValueError:
            raise
        except Exception as exc:  # stored by another version of the integration, or tampered with
            raise NotReplayableValueError(stored, f"a {kind} that cannot be rebuilt: {exc}") from exc
    if kind not in ("pydantic", "dataclass", "enum"):
        raise NotReplayableValueError(stored, f"unknown value kind {kind!r}")
    cls = _loaded_class(stored)
    try:
        if kind == "pydantic":
            return cls.model_validate(stored["value"])
        if kind == "dataclass":
            return cls(**{k: from_json_value(v) for k, v in stored["fields"].items()})
        return cls(from_json_value(stored["value"]))
    except NotReplayableValueError:
        raise
    except Exception as exc:  # the class changed since the recording
        raise NotReplayableValueError(stored, f"{stored.get('class')} cannot be rebuilt: {exc}") from exc
