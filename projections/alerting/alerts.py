"""The alert manager: every alert recorded first, then de-duplicated, then delivered to every channel.

Rules (``docs/semantics.md``, Alerts): an alert is appended as ``AlertRaised`` before anything is
delivered, so no alert is lost to a failing channel. De-duplication is per (type, source): within
``cooldown_seconds`` of the last *delivered* alert of a key, another one is suppressed — recorded
with ``suppressed=True`` and counted, never dropped — unless it is more severe than that one, in
which case it is delivered at once. A delivered alert goes to every channel concurrently, each
with a timeout; each outcome is an ``AlertDelivered`` event, and a channel that fails or hangs
never stops the others. The de-duplication state is folded from the ledger, so managers on one
ledger share it (two processes raising the same alert at the same instant may both deliver it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from uuid import UUID

import msgspec

from ledger import (
    AlertAcknowledged,
    AlertDelivered,
    AlertRaised,
    Clock,
    Ledger,
    LedgerError,
    as_utc,
    new_event_id,
    to_epoch_us,
    utc_now,
)
from projections.alerting.alert_fold import (
    Alert,
    AlertChannel,
    AlertProjection,
    AlertSeverity,
    Delivery,
    KeyState,
    RaisedFields,
    alert_from_event,
)
from projections.alerting.report_alerts import ReportAlerts
from projections.fold.bound import Bound, fold_new
from projections.fold.storage import MetricStorage

log = logging.getLogger(__name__)


class UnknownAlertError(LedgerError, KeyError):
    """No alert with that id is recorded."""

    def __init__(self, alert_id: UUID | str) -> None:
        self.alert_id = alert_id
        super().__init__(f"no alert with id {alert_id}")

    def __str__(self) -> str:
        return str(self.args[0])


class AlertManager(ReportAlerts, Bound):
    """Raises, de-duplicates, delivers and lists alerts (the guide's "Alert System").

    Args:
        storage: where events live; exclusive with ``ledger``.
        ledger: where alerts are recorded (default: an in-memory ledger).
        clock: the time alerts are raised at.
        cooldown_seconds: how long after a delivered alert an equal or milder one of the same
            (type, source) is suppressed.
        channel_timeout_seconds: how long one channel may take to deliver.
    """

    def __init__(
        self,
        storage: MetricStorage | None = None,
        *,
        ledger: Ledger | None = None,
        clock: Clock = utc_now,
        cooldown_seconds: float = 300.0,
        channel_timeout_seconds: float = 30.0,
    ) -> None:
        super().__init__(storage, ledger=ledger, clock=clock)
        self.cooldown_seconds = cooldown_seconds
        self.channel_timeout_seconds = channel_timeout_seconds
        self._channels: dict[str, AlertChannel] = {}
        self._projection = AlertProjection()

    # -- channels -----------------------------------------------------------------------------

    def add_channel(self, name: str, channel: AlertChannel) -> None:
        """Deliver alerts to ``channel`` under ``name`` (an existing channel of that name is replaced)."""
        self._channels[name] = channel

    def remove_channel(self, name: str) -> None:
        """Stop delivering to the channel ``name`` (no error if there is none)."""
        self._channels.pop(name, None)

    @property
    def channels(self) -> Mapping[str, AlertChannel]:
        """The channels by name, in the order they were added."""
        return dict(self._channels)

    # -- raising ------------------------------------------------------------------------------

    async def trigger_alert(
        self,
        alert_type: str,
        source: str,
        severity: AlertSeverity | str,
        title: str,
        message: str = "",
        *,
        metric_name: str | None = None,
        current_value: float | None = None,
        threshold: float | None = None,
    ) -> Alert:
        """Record an alert, then deliver it unless it is suppressed; return it with its deliveries."""
        level = AlertSeverity.parse(severity)
        alert = await asyncio.to_thread(
            self._raise, alert_type, source, level, title, message, metric_name, current_value, threshold
        )
        if alert.suppressed or not self._channels:
            return alert
        deliveries = await self._deliver(alert)
        return replace(alert, deliveries=tuple(deliveries))

    # -- reading ------------------------------------------------------------------------------

    def projection(self) -> AlertProjection:
        """Return the alert state with every event in the ledger folded in."""
        with self._lock:
            fold_new(self.ledger, self._projection)
            return self._projection

    def get_alerts(
        self,
        since: datetime | None = None,
        severity: AlertSeverity | str | None = None,
        *,
        alert_type: str | None = None,
        source: str | None = None,
        include_suppressed: bool = False,
    ) -> list[Alert]:
        """Return alerts raised at or after ``since`` (naive = UTC) at ``severity`` or above, oldest first."""
        lo = None if since is None else as_utc(since)
        level = None if severity is None else AlertSeverity.parse(severity)
        return [
            a
            for a in self.projection().alerts.values()
            if (include_suppressed or not a.suppressed)
            and (lo is None or a.timestamp >= lo)
            and (level is None or a.severity >= level)
            and (alert_type is None or a.alert_type == alert_type)
            and (source is None or a.source == source)
        ]

    def get_alert(self, alert_id: UUID | str) -> Alert:
        """Return one alert by id."""
        key = alert_id if isinstance(alert_id, UUID) else UUID(str(alert_id))
        alert = self.projection().alerts.get(key)
        if alert is None:
            raise UnknownAlertError(alert_id)
        return alert

    def suppressed_count(self, alert_type: str | None = None, source: str | None = None) -> int:
        """How many alerts were suppressed, for one (type, source) or in all."""
        return sum(
            state.suppressed
            for (kind, src), state in self.projection().keys.items()
            if (alert_type is None or kind == alert_type) and (source is None or src == source)
        )

    def acknowledge(self, alert_id: UUID | str, by: str | None = None, note: str | None = None) -> Alert:
        """Record that ``by`` acknowledged the alert; return it (the first acknowledgement counts)."""
        alert = self.get_alert(alert_id)
        self.ledger.append(AlertAcknowledged(alert_id=alert.id, by=by, note=note, occurred_at=self.now()))
        return self.get_alert(alert.id)

    # -- internals ----------------------------------------------------------------------------

    def _raise(
        self,
        alert_type: str,
        source: str,
        severity: AlertSeverity,
        title: str,
        message: str,
        metric_name: str | None,
        current_value: float | None,
        threshold: float | None,
    ) -> Alert:
        """Decide suppression on the folded state and record the alert, under one lock."""
        with self._lock:
            key = self.projection().keys.get((alert_type, source), KeyState())
            now = self.now()
            suppressed = key.suppresses(to_epoch_us(now), self.cooldown_seconds, severity.rank)
            alert_id = new_event_id()
            event = AlertRaised(
                event_id=alert_id,
                alert_id=alert_id,
                alert_type=alert_type,
                source=source,
                severity=severity.value,
                title=title,
                message=message,
                metric_name=metric_name,
                current_value=current_value,
                threshold=threshold,
                suppressed=suppressed,
                occurred_at=now,
            )
            self.ledger.append(event)
            fold_new(self.ledger, self._projection)
            fields = msgspec.convert(event.model_dump(mode="json"), RaisedFields)
            return alert_from_event(to_epoch_us(now), fields)

    async def _deliver(self, alert: Alert) -> list[Delivery]:
        channels = list(self._channels.items())

        async def one(name: str, channel: AlertChannel) -> AlertDelivered:
            try:
                await asyncio.wait_for(channel.send(alert), self.channel_timeout_seconds)
            except Exception as exc:
                detail = str(exc) or (
                    f"no answer within {self.channel_timeout_seconds:g}s"
                    if isinstance(exc, TimeoutError)
                    else ""
                )
                log.warning("alert %s: channel %s failed: %s", alert.id, name, detail)
                error = f"{type(exc).__name__}: {detail}"[:2000]
                return AlertDelivered(
                    alert_id=alert.id, channel=name, success=False, error=error, occurred_at=self.now()
                )
            return AlertDelivered(alert_id=alert.id, channel=name, success=True, occurred_at=self.now())

        events = await asyncio.gather(*(one(name, channel) for name, channel in channels))
        await self.ledger.append_async(events)
        return [Delivery(e.channel, e.success, e.error, e.occurred_at) for e in events]
