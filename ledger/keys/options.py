"""The crypto-shredding options of a ledger URL: ``?master_key_file=PATH`` and ``?retain=SPEC:DAYS[,…]``.

They are read (and taken off the URL) before the backend parses the rest. ``retain`` names
retention by field: ``ToolCalled.result:30`` keeps tool results of events about a subject 30
days, ``ModelCalled:7`` every sealed field of model calls 7 days (see :mod:`ledger.keys.fields`).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from ledger.errors import InvalidURLOptionError
from ledger.keys.fields import field_specs

MASTER_KEY_FILE = "master_key_file"
RETAIN = "retain"
_OPTIONS = (MASTER_KEY_FILE, RETAIN)


def split_options(url: str, shown: str) -> tuple[str, str | None, dict[str, int]]:
    """Return ``url`` without the options, the master key file and the field horizons (days).

    Raises:
        InvalidURLOptionError: a ``retain`` entry names no sealed field, or its days are not a
            positive whole number.
    """
    base, sep, query = url.partition("?")
    if not sep or not any(f"{o}=" in query for o in _OPTIONS):
        return url, None, {}
    fragment = ""
    if "#" in query:
        query, _, fragment = query.partition("#")
        fragment = "#" + fragment
    key_file: str | None = None
    horizons: dict[str, int] = {}
    kept = []
    for part in query.split("&"):
        name = part.split("=", 1)[0]
        if name not in _OPTIONS:
            if part:
                kept.append(part)
            continue
        value = dict(parse_qsl(part, keep_blank_values=True)).get(name, "")
        if name == MASTER_KEY_FILE:
            key_file = value or None
        else:
            horizons.update(parse_horizons(value, shown))
    return base + ("?" + "&".join(kept) if kept else "") + fragment, key_file, horizons


def parse_horizons(text: str, shown: str = "the ledger URL") -> dict[str, int]:
    """Parse ``SPEC:DAYS[,SPEC:DAYS…]`` (``Type`` or ``Type.field``) into horizons in days.

    Raises:
        InvalidURLOptionError: an entry names no sealed field, or its days are not a positive whole number.
    """
    specs = field_specs()
    horizons: dict[str, int] = {}
    for entry in filter(None, (e.strip() for e in text.split(","))):
        spec, _, days = entry.rpartition(":")
        if spec not in specs:
            raise InvalidURLOptionError(
                shown, RETAIN, entry, f"TYPE[.FIELD]:DAYS naming a sealed field ({', '.join(sorted(specs))})"
            )
        if not days.isdigit() or int(days) <= 0:
            raise InvalidURLOptionError(shown, RETAIN, entry, "a positive whole number of days after the ':'")
        horizons[spec] = int(days)
    return horizons


__all__ = ["MASTER_KEY_FILE", "RETAIN", "parse_horizons", "split_options"]
