"""JSON documents the service answers and ``report --html`` inlines: decimals exact, trails as plain objects.

Free of Starlette, so ``rledger report --html`` builds the same documents on the core install.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import orjson

__all__ = ["dumps", "json_default", "trail_document"]


def json_default(value: Any) -> Any:
    """What orjson cannot write itself: decimals as exact strings, models as their JSON, sets as lists."""
    if isinstance(value, Decimal):
        return f"{value:f}"
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        return dump(mode="json")
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    return str(value)


def dumps(obj: Any) -> bytes:
    """``obj`` as JSON bytes, with :func:`json_default`."""
    return orjson.dumps(obj, default=json_default)


def trail_document(trail: Any) -> dict[str, Any]:
    """A decision trail as JSON: its fields, ``completed``, and the ids of the unbacked claims."""
    fields = {f.name for f in dataclasses.fields(trail)} - {"history", "ledger", "build_started", "tools"}
    out = {name: getattr(trail, name) for name in sorted(fields)}
    out["completed"] = trail.completed
    out["unbacked_claims"] = [str(claim.id) for claim in trail.unbacked_claims]
    return out
