"""What an event may hold so that every read can decode it again, checked at the door.

An event accepted must read back on every backend, so the codec refuses, naming the event's index
and the field:

- nesting deeper than :data:`MAX_DEPTH` levels (the event object is level 1): the JSON parser that
  reads events back stops at 200 levels, and the encoder at 255, so a deeper free-form value would
  be stored and then break every read of the ledger;
- text that is not valid Unicode (a lone surrogate such as ``"\\ud800"``), which has no UTF-8
  encoding and so no stored form;
- a NUL character (U+0000) in a field that is stored in its own column as well as in the event's
  bytes (``workflow_id``, ``agent`` and every other named field: everything but the free-form
  values): PostgreSQL's text columns cannot hold it, and the ledger refuses it on every backend
  alike. Free-form values (``arguments``, ``result``…) may contain it: they are stored only as JSON.

The walks here run only when a cheap scan of the encoded bytes says they may find something.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

MAX_DEPTH = 128
"""Deepest nesting an event's JSON may have (the event object is level 1; reads stop at 200)."""

FREE_FORM_FIELDS = frozenset({"input", "outcome", "arguments", "result", "content"})
"""Fields holding arbitrary JSON values, stored only inside the event's bytes."""


def may_be_too_deep(state: bytes) -> bool:
    """Whether the encoding could nest deeper than :data:`MAX_DEPTH` (cheap: counts brackets)."""
    return state.count(b"[") + state.count(b"{") >= MAX_DEPTH


def too_deep(event: BaseModel) -> str | None:
    """The dotted path of the first free-form value nested deeper than :data:`MAX_DEPTH`, if any."""
    for name in FREE_FORM_FIELDS:
        value = getattr(event, name, None)
        if isinstance(value, dict | list | tuple):
            found = _first(value, name, 2, _never, MAX_DEPTH)  # the event is level 1
            if found is not None:
                return found
    return None


def too_deep_in(data: Any) -> str | None:
    """The dotted path of the first value nested deeper than :data:`MAX_DEPTH` in an event's
    JSON data (a mapping or parsed JSON; the top level is level 1), if any."""
    return _first(data, "", 1, _never, MAX_DEPTH)


def not_unicode(event: BaseModel | Any) -> str | None:
    """The dotted path of the first text with no UTF-8 encoding (a lone surrogate), if any.

    ``event`` is an event, or the mapping an event was given as.
    """
    if isinstance(event, BaseModel):
        for name in type(event).model_fields:
            found = _first(getattr(event, name), name, 1, _has_surrogate, None)
            if found is not None:
                return found
        return None
    return _first(event, "", 1, _has_surrogate, None)


def nul_in_named_field(event: BaseModel) -> str | None:
    """The name of the first field outside the free-form values that contains U+0000, if any."""
    for name in type(event).model_fields:
        if name not in FREE_FORM_FIELDS:
            found = _first(getattr(event, name), name, 1, _has_nul, None)
            if found is not None:
                return found
    return None


def _short(path: str) -> str | None:
    """A path as an error shows it: a value 129 levels deep has a path of 129 steps."""
    return path if len(path) <= 80 else path[:77] + "…"


def _never(text: str) -> bool:
    return False


def _has_nul(text: str) -> bool:
    return "\x00" in text


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _first(
    root: Any, root_path: str, root_level: int, bad_text: Callable[[str], bool], max_level: int | None
) -> str | None:
    """The path of the first string (value or key) ``bad_text`` flags, or of the first container
    past ``max_level`` (walked without recursion: a value may be deeper than Python's stack)."""
    stack: list[tuple[Any, str, int]] = [(root, root_path, root_level)]
    while stack:
        value, path, level = stack.pop()
        if isinstance(value, str):
            if bad_text(value):
                return path or None
            continue
        container = isinstance(value, dict | list | tuple)
        if container and max_level is not None and level > max_level:
            return _short(path)
        prefix = f"{path}." if path else ""
        if isinstance(value, dict):
            for key, item in reversed(list(value.items())):
                if isinstance(key, str) and bad_text(key):
                    return f"{prefix}{key!r}"
                stack.append((item, f"{prefix}{key}", level + 1))
        elif isinstance(value, list | tuple):
            for i in range(len(value) - 1, -1, -1):
                stack.append((value[i], f"{path}[{i}]", level + 1))
    return None
