"""Counts of redactions: what a process redacted, or what stored events record (no pydantic needed).

``rledger stats`` counts the stored records with :func:`count_redactions` from the encoded events
alone, so it still starts without the codec and the event models.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import orjson

__all__ = ["as_counts", "count_redactions", "tally"]


def tally(counter: Counter[tuple[str, str]], items: list[tuple[str, str, str]]) -> None:
    """Add one redacted event's records, as (action, kind, by), to ``counter``."""
    counter["events", ""] += 1
    for action, kind, by in items:
        counter["redactions", ""] += 1
        counter["action", action] += 1
        counter[kind, by] += 1


def as_counts(counter: Counter[tuple[str, str]]) -> dict[str, Any]:
    """The counts as reported: events, redactions, and by action, rule and detector."""

    def part(kind: str) -> dict[str, int]:
        return dict(sorted((by, n) for (k, by), n in counter.items() if k == kind))

    return {
        "events": counter["events", ""],
        "redactions": counter["redactions", ""],
        "by_action": part("action"),
        "by_rule": part("rule"),
        "by_detector": part("detector"),
    }


def count_redactions(states: Iterable[bytes]) -> dict[str, Any]:
    """Count the redaction records in stored encodings, in the shape of ``Redactor.counts``.

    Only an encoding that mentions ``"redactions"`` is parsed.
    """
    counter: Counter[tuple[str, str]] = Counter()
    for state in states:
        if b'"redactions":[' in state:
            records = orjson.loads(state).get("redactions") or ()
            if records:
                tally(counter, [(r["action"], r["kind"], r["by"]) for r in records])
    return as_counts(counter)
