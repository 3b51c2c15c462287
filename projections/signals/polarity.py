"""Which way is better for a metric: the polarity that trend and anomaly direction follow.

Built-in metrics have a fixed polarity (SVR, MA, RSR higher is better; CR, PC, HIR, TCL, WCT, MTTE
lower). A metric recorded by hand takes its polarity from a parameter, else from the words of its name: a
word latency, duration, time, cost, error, failure, violation, churn, compensation or human (or
its plural) makes it lower-is-better, unless a word says the opposite (free, saving(s), saved,
uptime, success, availability, score); any other name is higher-is-better (``docs/semantics.md``,
General rules).
"""

from __future__ import annotations

import re
from typing import Literal

Polarity = Literal["higher_is_better", "lower_is_better"]

HIGHER: Polarity = "higher_is_better"
LOWER: Polarity = "lower_is_better"

BUILTIN_POLARITY: dict[str, Polarity] = {
    "svr": HIGHER,
    "ma": HIGHER,
    "rsr": HIGHER,
    "cr": LOWER,
    "pc": LOWER,
    "hir": LOWER,
    "tcl": LOWER,
    "wct": LOWER,
    "mtte": LOWER,
}
"""The polarity of each built-in metric (by its short name)."""

LOWER_IS_BETTER_WORDS: tuple[str, ...] = (
    "latency",
    "duration",
    "time",
    "cost",
    "error",
    "failure",
    "violation",
    "churn",
    "compensation",
    "human",
)
"""Name fragments that make a hand-recorded metric lower-is-better."""

HIGHER_IS_BETTER_WORDS: tuple[str, ...] = (
    "free",
    "saving",
    "savings",
    "saved",
    "uptime",
    "success",
    "successes",
    "availability",
    "score",
)
"""Words that make a name higher-is-better even beside a lower word (``error_free_rate``)."""

_LOWER = frozenset(LOWER_IS_BETTER_WORDS) | {f"{w}s" for w in LOWER_IS_BETTER_WORDS} | {"latencies"}
_HIGHER = frozenset(HIGHER_IS_BETTER_WORDS)


def _words(name: str) -> list[str]:
    """A metric name's words: split at non-letters and camel case (``p95LatencyMs`` → p, latency, ms)."""
    return re.findall(r"[a-z]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower())


def polarity_of(metric_name: str, explicit: Polarity | None = None) -> Polarity:
    """Return the polarity of ``metric_name``: ``explicit`` if given, else built-in, else by name.

    The name rule matches whole words (``p95_latency_ms``, ``errors``, ``failure_rate`` are lower
    is better; ``uptime``, ``timeliness_score``, ``error_free_rate`` and ``cost_savings`` higher),
    as the semantics page states.
    """
    if explicit is not None:
        return explicit
    builtin = BUILTIN_POLARITY.get(metric_name.lower())
    if builtin is not None:
        return builtin
    words = set(_words(metric_name))
    return LOWER if words & _LOWER and not words & _HIGHER else HIGHER


def is_worse(polarity: Polarity, before: float, after: float) -> bool:
    """True when moving from ``before`` to ``after`` is a change for the worse."""
    return after < before if polarity == HIGHER else after > before
