"""Which fields are encrypted when an event names a subject, and what they read as once erased.

The free-form fields — what a person may have typed or a tool may have returned about them:
goals and inputs, outcomes, arguments and results, model messages, parameters and responses,
evidence content, reasons, errors and state values. Every structural field (type, ids, times,
agent, workflow, success flags, durations, token counts, costs) stays in the clear: metrics,
costs and SLOs never read an encrypted field, so forgetting a subject changes none of them.
"""

from __future__ import annotations

from typing import Any

ENCRYPTED_FIELDS: dict[str, tuple[str, ...]] = {
    "WorkflowStarted": ("goal", "input"),
    "WorkflowCompleted": ("outcome",),
    "StepRecorded": ("error",),
    "ToolCalled": ("arguments", "result", "error"),
    "ModelCalled": ("messages", "parameters", "response", "error"),
    "EvidenceCollected": ("content",),
    "PlanRevised": ("reason",),
    "HumanIntervened": ("reason",),
    "StateChanged": ("value",),
}
"""Event type → its fields stored encrypted when the event has a ``subject``."""

ERASED = "[erased]"
"""What an erased text or free-form field reads as."""

_ERASED_OBJECT: dict[str, Any] = {ERASED: True}
_ERASED_ARRAY: list[Any] = [ERASED]

# The fields whose model type is not free text: a mapping or an array reads as one of these.
_OBJECT_FIELDS = frozenset({("ToolCalled", "arguments"), ("ModelCalled", "parameters")})
_ARRAY_FIELDS = frozenset({("ModelCalled", "messages")})


def erased_value(event_type: str, field: str) -> Any:
    """What an erased field reads as: ``"[erased]"``, or ``{"[erased]": true}`` / ``["[erased]"]`` where
    the field must hold a mapping / an array."""
    if (event_type, field) in _OBJECT_FIELDS:
        return dict(_ERASED_OBJECT)
    if (event_type, field) in _ARRAY_FIELDS:
        return list(_ERASED_ARRAY)
    return ERASED


def unsealed(data: dict[str, Any]) -> dict[str, Any]:
    """A stored event's dict with each sealed field read as erased (for readers without the keys)."""
    if data.get("subject") is None:
        return data
    event_type = str(data.get("type"))
    for field in ENCRYPTED_FIELDS.get(event_type, ()):
        value = data.get(field)
        if isinstance(value, dict) and "$enc" in value:
            data[field] = erased_value(event_type, field)
    return data


def field_specs() -> frozenset[str]:
    """Every ``Type`` and ``Type.field`` a retention horizon may name."""
    return frozenset(ENCRYPTED_FIELDS) | {f"{t}.{f}" for t, fs in ENCRYPTED_FIELDS.items() for f in fs}


__all__ = ["ENCRYPTED_FIELDS", "ERASED", "erased_value", "field_specs", "unsealed"]
