"""The event store: event schemas, validation, backends, append/read, idempotency, hash chain.

The exports are lazy (module ``__getattr__``, as in :mod:`reliability`): ``rledger --help`` and
``rledger stats`` import this package for the URL default and the error types, and must not load
pydantic, the event models or the backends they do not use (``bench/cli.py``). A name is imported
from its module on first use, then cached here; what mypy and editors see is the import list under
``TYPE_CHECKING``, which ``tests/ledger/test_lazy_exports.py`` checks against ``_WHERE``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ledger.anchors import (
        Anchor,
        load_anchor_key,
        load_public_key,
        new_anchor_key,
        read_anchors,
        sign_head,
        write_anchor,
    )
    from ledger.backends.locks import RunnerLock
    from ledger.backends.rows import ReadQuery, SavedView, ScanRow
    from ledger.backtest_events import BacktestRecorded, IncidentDeclared, IncidentResolved
    from ledger.batch import MAX_BATCH_BYTES, MAX_BATCH_EVENTS, AppendResult
    from ledger.budget_events import (
        BudgetBreached,
        BudgetRemoved,
        BudgetReservationReleased,
        BudgetReserved,
        BudgetSet,
    )
    from ledger.codec import validate_batch, validate_lines, validate_one
    from ledger.commit import Clock
    from ledger.connections import url_of
    from ledger.deadline import DEFAULT_TIMEOUT
    from ledger.errors import (
        AnchorError,
        BackendError,
        BackendSetupError,
        BackendTimeoutError,
        BackendUnavailableError,
        BatchRejectedError,
        BatchTooLargeError,
        ConflictError,
        DuplicateEventError,
        InvalidEventError,
        InvalidURLOptionError,
        LedgerClosedError,
        LedgerError,
        LedgerLostError,
        Problem,
        PrunedRangeError,
        StorageFullError,
        UnsupportedURLError,
        VersionConflictError,
        ViewConflictError,
    )
    from ledger.event_base import Confidence, LedgerEvent
    from ledger.events import (
        EVENT_ADAPTER,
        EVENT_TYPES,
        CheckpointMarked,
        CostIncurred,
        Event,
        EvidenceCollected,
        ExplanationRecorded,
        HumanIntervened,
        ModeViolated,
        PlanRevised,
        ReplayAttempted,
        StateChanged,
        StepRecorded,
        ToolCalled,
        WorkflowCompleted,
        WorkflowStarted,
        event_json_schema,
    )
    from ledger.guard_events import (
        AgentModeSet,
        AlertAcknowledged,
        AlertDelivered,
        AlertRaised,
        AnomalyDetected,
        BreakerCallRecorded,
        BreakerConfigured,
        BreakerProbeStarted,
        CircuitTransitioned,
        MetricRecorded,
        ModeChecked,
    )
    from ledger.keys.errors import MasterKeyError, PrivacyError, SubjectsUnsupportedError
    from ledger.limits import MAX_DEPTH
    from ledger.model_events import ModelCalled
    from ledger.privacy_events import SubjectForgotten
    from ledger.recorded import Recorded
    from ledger.schema_file import stored_event_schema
    from ledger.shadows import SHADOW_SUFFIX, clear_stale_shadows, shadow_name, take_shadow_lease
    from ledger.store import Ledger
    from ledger.timeutil import as_utc, from_epoch_us, new_event_id, to_epoch_us, utc_now
    from ledger.url import DEFAULT_URL, default_url, open_ledger
    from ledger.verify import IntegrityProblem, VerifyReport
    from ledger.workload import generate as generate_workload


_WHERE: dict[str, str] = {
    "AgentModeSet": "guard_events",
    "AlertAcknowledged": "guard_events",
    "AlertDelivered": "guard_events",
    "AlertRaised": "guard_events",
    "Anchor": "anchors",
    "AnchorError": "errors",
    "AnomalyDetected": "guard_events",
    "AppendResult": "batch",
    "BackendError": "errors",
    "BacktestRecorded": "backtest_events",
    "BackendSetupError": "errors",
    "BackendTimeoutError": "errors",
    "BackendUnavailableError": "errors",
    "BatchRejectedError": "errors",
    "BatchTooLargeError": "errors",
    "BreakerCallRecorded": "guard_events",
    "BreakerConfigured": "guard_events",
    "BreakerProbeStarted": "guard_events",
    "BudgetBreached": "budget_events",
    "BudgetRemoved": "budget_events",
    "BudgetReservationReleased": "budget_events",
    "BudgetReserved": "budget_events",
    "BudgetSet": "budget_events",
    "CheckpointMarked": "events",
    "CircuitTransitioned": "guard_events",
    "Clock": "commit",
    "Confidence": "event_base",
    "ConflictError": "errors",
    "CostIncurred": "events",
    "DEFAULT_TIMEOUT": "deadline",
    "DEFAULT_URL": "url",
    "DuplicateEventError": "errors",
    "EVENT_ADAPTER": "events",
    "EVENT_TYPES": "events",
    "Event": "events",
    "EvidenceCollected": "events",
    "ExplanationRecorded": "events",
    "HumanIntervened": "events",
    "IncidentDeclared": "backtest_events",
    "IncidentResolved": "backtest_events",
    "IntegrityProblem": "verify",
    "InvalidEventError": "errors",
    "InvalidURLOptionError": "errors",
    "Ledger": "store",
    "LedgerClosedError": "errors",
    "LedgerError": "errors",
    "LedgerEvent": "event_base",
    "LedgerLostError": "errors",
    "MAX_BATCH_BYTES": "batch",
    "MAX_BATCH_EVENTS": "batch",
    "MAX_DEPTH": "limits",
    "MetricRecorded": "guard_events",
    "MasterKeyError": "keys.errors",
    "ModeChecked": "guard_events",
    "ModeViolated": "events",
    "ModelCalled": "model_events",
    "PlanRevised": "events",
    "PrivacyError": "keys.errors",
    "Problem": "errors",
    "PrunedRangeError": "errors",
    "ReadQuery": "backends.rows",
    "Recorded": "recorded",
    "ReplayAttempted": "events",
    "RunnerLock": "backends.locks",
    "SHADOW_SUFFIX": "shadows",
    "SavedView": "backends.rows",
    "ScanRow": "backends.rows",
    "StateChanged": "events",
    "StepRecorded": "events",
    "StorageFullError": "errors",
    "SubjectForgotten": "privacy_events",
    "SubjectsUnsupportedError": "keys.errors",
    "ToolCalled": "events",
    "UnsupportedURLError": "errors",
    "VerifyReport": "verify",
    "VersionConflictError": "errors",
    "ViewConflictError": "errors",
    "WorkflowCompleted": "events",
    "WorkflowStarted": "events",
    "as_utc": "timeutil",
    "clear_stale_shadows": "shadows",
    "default_url": "url",
    "event_json_schema": "events",
    "from_epoch_us": "timeutil",
    "generate_workload": "workload",
    "load_anchor_key": "anchors",
    "load_public_key": "anchors",
    "new_anchor_key": "anchors",
    "new_event_id": "timeutil",
    "open_ledger": "url",
    "read_anchors": "anchors",
    "shadow_name": "shadows",
    "sign_head": "anchors",
    "stored_event_schema": "schema_file",
    "take_shadow_lease": "shadows",
    "to_epoch_us": "timeutil",
    "url_of": "connections",
    "utc_now": "timeutil",
    "validate_batch": "codec",
    "validate_lines": "codec",
    "validate_one": "codec",
    "write_anchor": "anchors",
}
"""Each export's module under ``ledger``."""

_RENAMED = {"generate_workload": "generate"}
"""Exports whose name in their module differs."""


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'ledger' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"ledger.{module}"), _RENAMED.get(name, name))
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "DEFAULT_TIMEOUT",
    "DEFAULT_URL",
    "EVENT_ADAPTER",
    "EVENT_TYPES",
    "MAX_BATCH_BYTES",
    "MAX_BATCH_EVENTS",
    "MAX_DEPTH",
    "SHADOW_SUFFIX",
    "AgentModeSet",
    "AlertAcknowledged",
    "AlertDelivered",
    "AlertRaised",
    "Anchor",
    "AnchorError",
    "AnomalyDetected",
    "AppendResult",
    "BackendError",
    "BackendSetupError",
    "BackendTimeoutError",
    "BackendUnavailableError",
    "BacktestRecorded",
    "BatchRejectedError",
    "BatchTooLargeError",
    "BreakerCallRecorded",
    "BreakerConfigured",
    "BreakerProbeStarted",
    "BudgetBreached",
    "BudgetRemoved",
    "BudgetReservationReleased",
    "BudgetReserved",
    "BudgetSet",
    "CheckpointMarked",
    "CircuitTransitioned",
    "Clock",
    "Confidence",
    "ConflictError",
    "CostIncurred",
    "DuplicateEventError",
    "Event",
    "EvidenceCollected",
    "ExplanationRecorded",
    "HumanIntervened",
    "IncidentDeclared",
    "IncidentResolved",
    "IntegrityProblem",
    "InvalidEventError",
    "InvalidURLOptionError",
    "Ledger",
    "LedgerClosedError",
    "LedgerError",
    "LedgerEvent",
    "LedgerLostError",
    "MasterKeyError",
    "MetricRecorded",
    "ModeChecked",
    "ModeViolated",
    "ModelCalled",
    "PlanRevised",
    "PrivacyError",
    "Problem",
    "PrunedRangeError",
    "ReadQuery",
    "Recorded",
    "ReplayAttempted",
    "RunnerLock",
    "SavedView",
    "ScanRow",
    "StateChanged",
    "StepRecorded",
    "StorageFullError",
    "SubjectForgotten",
    "SubjectsUnsupportedError",
    "ToolCalled",
    "UnsupportedURLError",
    "VerifyReport",
    "VersionConflictError",
    "ViewConflictError",
    "WorkflowCompleted",
    "WorkflowStarted",
    "as_utc",
    "clear_stale_shadows",
    "default_url",
    "event_json_schema",
    "from_epoch_us",
    "generate_workload",
    "load_anchor_key",
    "load_public_key",
    "new_anchor_key",
    "new_event_id",
    "open_ledger",
    "read_anchors",
    "shadow_name",
    "sign_head",
    "stored_event_schema",
    "take_shadow_lease",
    "to_epoch_us",
    "url_of",
    "utc_now",
    "validate_batch",
    "validate_lines",
    "validate_one",
    "write_anchor",
]
