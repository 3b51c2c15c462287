"""Alerts back-tested: the recorded alerts de-duplicated and delivered again under another cooldown.

Every ``AlertRaised`` is an alert some rule fired; whether it was delivered or suppressed was
the manager's cooldown decision (``KeyState.suppresses``, the manager's own rule). :func:`simulate`
decides each again with the cooldown and minimum severity given, delivers what passes to every
channel the ledger saw alerts delivered to, and counts pages per channel and per day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar
from uuid import UUID

import msgspec

from projections.alerting import AlertProjection, AlertSeverity, KeyState
from projections.fold import Handler
from replay.backtest.config import AlertSetting
from replay.backtest.scan import Collector

DAY_US = 86_400_000_000


@dataclass
class Raised:
    """One recorded alert as the back-test needs it."""

    t: int
    key: tuple[str, str]
    severity: AlertSeverity
    suppressed: bool
    channels: list[str] = field(default_factory=list)


class AlertCollector(Collector):
    """Recorded alerts in ledger order, with the channels each was delivered to."""

    name = "backtest_alerts"
    structs: ClassVar[dict[str, type[msgspec.Struct]]] = {
        "AlertRaised": AlertProjection.structs["AlertRaised"],
        "AlertDelivered": AlertProjection.structs["AlertDelivered"],
    }

    def __init__(self) -> None:
        super().__init__()
        self.alerts: list[Raised] = []
        self._by_id: dict[UUID, Raised] = {}
        self.channels: set[str] = set()

    def _handlers(self) -> dict[str, Handler]:
        return {"AlertRaised": self._raised, "AlertDelivered": self._delivered}

    def _raised(self, t: int, e: Any) -> None:
        alert = Raised(t, (e.alert_type, e.source), AlertSeverity.parse(e.severity), e.suppressed)
        self.alerts.append(alert)
        self._by_id[e.alert_id] = alert

    def _delivered(self, t: int, e: Any) -> None:
        self.channels.add(e.channel)
        alert = self._by_id.get(e.alert_id)
        if alert is not None:
            alert.channels.append(e.channel)


@dataclass(frozen=True)
class AlertOutcome:
    """What delivery would have been, beside what it was.

    Attributes:
        setting: the cooldown and minimum severity decided with.
        raised: alerts raised (the same in both: the rules that raise them are not re-run).
        delivered: alerts it would have delivered; ``recorded_delivered`` the recorded ones.
        suppressed: alerts its cooldown would have suppressed; ``recorded_suppressed`` recorded.
        below_severity: alerts under the minimum severity (not delivered).
        per_channel: deliveries per channel; ``recorded_per_channel`` as recorded.
        days: the window's length in days (pages per day divide by it).
        same_as_recorded: whether it suppresses exactly the recorded alerts.
    """

    setting: AlertSetting
    raised: int
    delivered: int
    recorded_delivered: int
    suppressed: int
    recorded_suppressed: int
    below_severity: int
    per_channel: dict[str, int]
    recorded_per_channel: dict[str, int]
    days: float | None
    same_as_recorded: bool

    def to_json(self) -> dict[str, Any]:
        """The outcome as JSON (pages per day ``None`` when the window has no length)."""
        days = self.days

        def per_day(counts: dict[str, int]) -> dict[str, float | None]:
            return {c: (n / days if days else None) for c, n in sorted(counts.items())}

        return {
            "cooldown_seconds": self.setting.cooldown_seconds,
            "min_severity": None if self.setting.min_severity is None else self.setting.min_severity.value,
            "raised": self.raised,
            "delivered": self.delivered,
            "recorded_delivered": self.recorded_delivered,
            "suppressed": self.suppressed,
            "recorded_suppressed": self.recorded_suppressed,
            "below_severity": self.below_severity,
            "per_channel": dict(sorted(self.per_channel.items())),
            "recorded_per_channel": dict(sorted(self.recorded_per_channel.items())),
            "days": days,
            "pages_per_day": per_day(self.per_channel),
            "recorded_pages_per_day": per_day(self.recorded_per_channel),
            "same_as_recorded": self.same_as_recorded,
        }


def simulate(collected: AlertCollector, setting: AlertSetting, days: float | None) -> AlertOutcome:
    """Decide every recorded alert again with the setting's cooldown and minimum severity."""
    keys: dict[tuple[str, str], KeyState] = {}
    delivered = suppressed = below = 0
    same = True
    per_channel = dict.fromkeys(collected.channels, 0)
    recorded_per_channel = dict.fromkeys(collected.channels, 0)
    floor = -1 if setting.min_severity is None else setting.min_severity.rank
    for alert in collected.alerts:
        for channel in alert.channels:
            recorded_per_channel[channel] += 1
        key = keys.setdefault(alert.key, KeyState())
        rank = alert.severity.rank
        held = key.suppresses(alert.t, setting.cooldown_seconds, rank)
        same = same and held == alert.suppressed
        if held:
            suppressed += 1
            key.suppressed += 1
            continue
        key.last_us, key.last_rank = alert.t, rank  # as the alert fold keeps the last delivered one
        if rank < floor:
            below += 1
            continue
        delivered += 1
        for channel in per_channel:
            per_channel[channel] += 1
    return AlertOutcome(
        setting=setting,
        raised=len(collected.alerts),
        delivered=delivered,
        recorded_delivered=sum(1 for a in collected.alerts if not a.suppressed),
        suppressed=suppressed,
        recorded_suppressed=sum(1 for a in collected.alerts if a.suppressed),
        below_severity=below,
        per_channel=per_channel,
        recorded_per_channel=recorded_per_channel,
        days=days,
        same_as_recorded=same,
    )
