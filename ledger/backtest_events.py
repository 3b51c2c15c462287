"""The events of back-testing: incidents marked in the ledger, and a back-test's recorded summary.

Part of the event contract (wire format v1) like :mod:`ledger.events`, which joins them into the
one discriminated union; the same rule holds: never rename or remove a type or field.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ledger.event_base import LedgerEvent, Name, UTCDateTime

IncidentSeverity = Literal["info", "low", "medium", "warning", "high", "critical"]


class IncidentDeclared(LedgerEvent):
    """An incident began (what a back-test scores anomaly detection against)."""

    type: Literal["IncidentDeclared"] = "IncidentDeclared"
    incident_id: Name
    title: str = ""
    severity: IncidentSeverity | None = None


class IncidentResolved(LedgerEvent):
    """An incident declared earlier ended."""

    type: Literal["IncidentResolved"] = "IncidentResolved"
    incident_id: Name


class BacktestRecorded(LedgerEvent):
    """A back-test was run: the settings it tried, the window, and its headline numbers.

    ``settings`` and ``summary`` are the back-test's JSON (``rledger backtest --format json``
    carries the same numbers); nothing else of the ledger changes.
    """

    type: Literal["BacktestRecorded"] = "BacktestRecorded"
    settings: dict[str, Any] = Field(default_factory=dict)
    summary: dict[str, Any] = Field(default_factory=dict)
    since: UTCDateTime | None = None
    until: UTCDateTime | None = None
    events_scanned: int = Field(ge=0)
    through_offset: int = Field(ge=0)
