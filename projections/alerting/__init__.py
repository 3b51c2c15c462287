"""Alerting: alerts recorded, de-duplicated and delivered to channels; the monitor that evaluates rules."""

from projections.alerting.alert_fold import (
    Alert,
    AlertChannel,
    AlertProjection,
    AlertSeverity,
    Delivery,
    KeyState,
)
from projections.alerting.alerts import AlertManager, UnknownAlertError
from projections.alerting.channels import (
    CallbackAlertChannel,
    LogAlertChannel,
    WebhookAlertChannel,
    WebhookError,
)
from projections.alerting.monitor import Monitor, MonitorConfig, MonitorResult

__all__ = [
    "Alert",
    "AlertChannel",
    "AlertManager",
    "AlertProjection",
    "AlertSeverity",
    "CallbackAlertChannel",
    "Delivery",
    "KeyState",
    "LogAlertChannel",
    "Monitor",
    "MonitorConfig",
    "MonitorResult",
    "UnknownAlertError",
    "WebhookAlertChannel",
    "WebhookError",
]
