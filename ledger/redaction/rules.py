"""What a redaction does to a value: drop it, mask it with a marker, or keep a keyed hash of it.

A hash is ``hmac-sha256:<hex>`` of the value's canonical JSON (sorted keys) under the policy's
key: the same value gives the same hash in every event, so redacted values can still be joined
on, and without the key nobody can test a guess against it. Rules find their values by path
(:func:`ledger.redaction.policy.parse_path`); :func:`apply_path` rewrites copies along the path,
never the caller's containers.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import orjson

__all__ = ["HASH_PREFIX", "Rewrite", "apply_path", "keyed_hash"]

HASH_PREFIX = "hmac-sha256:"
"""How a hashed value starts (what replay and readers look for)."""

DROP = object()
"""Returned by a rewrite to remove the value (a key from its mapping, an item from its list)."""

Rewrite = Callable[[Any, str], Any]
"""Called with a found value and its dotted path; returns its replacement (or :data:`DROP`)."""


def keyed_hash(value: Any, key: bytes) -> str:
    """The keyed hash of a JSON value (its canonical encoding), as stored in its place."""
    data = value.encode() if isinstance(value, str) else orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    return HASH_PREFIX + hmac.new(key, data, hashlib.sha256).hexdigest()


def _shown(path: str, step: str | int) -> str:
    if isinstance(step, int):
        return f"{path}[{step}]"
    return f"{path}.{step}" if path else step


def apply_path(
    value: Any, steps: tuple[str | int, ...], path: str, rewrite: Rewrite
) -> tuple[Any, list[str]]:
    """Rewrite what ``steps`` find under ``value``; return the new value and the paths changed.

    ``value`` is not changed: each container on a changed path is copied. Steps that find
    nothing (a missing key, an index past the end, a string where a mapping was expected)
    change nothing.
    """
    if not steps:
        return rewrite(value, path), [path]
    step, rest = steps[0], steps[1:]
    changed: list[str] = []
    if isinstance(value, dict) and isinstance(step, str) and step != "[*]":
        keys = list(value) if step == "*" else [step] if step in value else []
        if not keys:
            return value, changed
        copy = dict(value)
        for key in keys:
            new, paths = apply_path(copy[key], rest, _shown(path, key), rewrite)
            if paths:
                changed += paths
                if new is DROP:
                    del copy[key]
                else:
                    copy[key] = new
        return (copy if changed else value), changed
    if isinstance(value, list | tuple) and (isinstance(step, int) or step == "[*]"):
        indexes = (
            range(len(value))
            if step == "[*]"
            else [step]
            if isinstance(step, int) and step < len(value)
            else []
        )
        items = list(value)
        dropped: set[int] = set()
        for i in indexes:
            new, paths = apply_path(items[i], rest, _shown(path, i), rewrite)
            if paths:
                changed += paths
                if new is DROP:
                    dropped.add(i)
                else:
                    items[i] = new
        if not changed:
            return value, changed
        return [item for i, item in enumerate(items) if i not in dropped], changed
    return value, changed
