"""Which way is better for a metric: the polarity that trend and anomaly direction follow.

Built-in metrics have a fixed polarity (SVR, MA, RSR higher is better; CR, PC, HIR, TCL, WCT, MTTE
lower). A metric recorded by hand takes its polarity from a parameter, else from its name: a name
containing latency, duration, time, cost, error, failure, violation, churn, compensation or human
is lower-is-better; any other name is higher-is-better (``docs/semantics.md``, General rules).
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

_LOWER = re.compile("|".join(LOWER_IS_BETTER_WORDS))


def polarity_of(metric_name: str, explicit: Polarity | None = None) -> Polarity:
    """Return the polarity of ``metric_name``: ``explicit`` if given, else built-in, else by name.

    The name rule matches fragments anywhere in the lower-cased name (``p95_latency_ms``,
    ``errors``, ``failure_rate``), so the rule is the one the semantics page states, not a
    whole-word match.
    """
    if explicit is not None:
        return explicit
    lowered = metric_name.lower()
    builtin = BUILTIN_POLARITY.get(lowered)
    if builtin is not None:
        return builtin
    return LOWER if _LOWER.search(lowered) else HIGHER


def is_worse(polarity: Polarity, before: float, after: float) -> bool:
    """True when moving from ``before`` to ``after`` is a change for the worse."""
    return after < before if polarity == HIGHER else after > before
