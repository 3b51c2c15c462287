"""The OpenAPI document's component schemas: the ledger's event schemas, the error shape and the answers."""

from __future__ import annotations

import json
from typing import Any

from ledger import event_json_schema

__all__ = ["component_schemas"]

TIME = {"type": "string", "format": "date-time"}
WHOLE = {"type": "integer", "minimum": 0}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def component_schemas() -> dict[str, Any]:
    """Every schema the paths refer to: the events (the ledger's own), errors and answers."""
    events = json.loads(json.dumps(event_json_schema()).replace("#/$defs/", "#/components/schemas/"))
    schemas: dict[str, Any] = dict(events.pop("$defs"))
    schemas["Event"] = {k: v for k, v in events.items() if k != "title"}
    nullable_int = {"anyOf": [{"type": "integer"}, {"type": "null"}]}
    schemas["Problem"] = {
        "type": "object",
        "required": ["index", "field", "message"],
        "properties": {
            "index": nullable_int,
            "field": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "message": {"type": "string"},
            "line": {"type": "integer", "description": "the NDJSON line (1-based)"},
        },
    }
    schemas["Error"] = {
        "type": "object",
        "required": ["error", "problems"],
        "properties": {"error": {"type": "string"}, "problems": {"type": "array", "items": _ref("Problem")}},
    }
    schemas["AppendResult"] = {
        "type": "object",
        "required": ["offsets", "written", "duplicates", "last_offset"],
        "properties": {
            "offsets": {
                "type": "array",
                "items": {"type": "integer"},
                "description": "each event's offset, in order",
            },
            "written": {"type": "integer", "description": "events newly written"},
            "duplicates": {"type": "integer", "description": "events already stored (idempotent retries)"},
            "last_offset": nullable_int,
        },
    }
    version = {"anyOf": [WHOLE, {"type": "object", "additionalProperties": WHOLE}]}
    schemas["EventBatch"] = {
        "type": "object",
        "required": ["events"],
        "additionalProperties": False,
        "properties": {"events": {"type": "array", "items": _ref("Event")}, "expected_version": version},
    }
    schemas["Workflow"] = {
        "type": "object",
        "required": [
            "workflow_id",
            "first_offset",
            "outcome",
            "steps",
            "failed_steps",
            "cost",
            "unpriced_costs",
        ],
        "properties": {
            "workflow_id": {"type": "string"},
            "first_offset": {"type": "integer"},
            "outcome": {"type": "string", "enum": ["running", "succeeded", "failed"]},
            "started_at": {"anyOf": [TIME, {"type": "null"}]},
            "completed_at": {"anyOf": [TIME, {"type": "null"}]},
            "replay_of": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "steps": {"type": "integer"},
            "failed_steps": {"type": "integer"},
            "cost": {"type": "string", "description": "exact decimal sum of the priced costs"},
            "currency": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "unpriced_costs": {"type": "integer"},
            "agents": {"type": "array", "items": {"type": "string"}, "description": "agents with a step"},
        },
    }
    schemas["Verify"] = {
        "type": "object",
        "required": ["ok", "events_checked", "problems"],
        "properties": {
            "ok": {"type": "boolean"},
            "events_checked": {"type": "integer"},
            "first_offset": {"type": "integer", "description": "checking started after this offset"},
            "last_offset": nullable_int,
            "head_offset": nullable_int,
            "checkpoints_checked": {"type": "integer"},
            "anchors_checked": {"type": "integer"},
            "pruned_through": {"type": "integer", "description": "the latest prune cut (0: never pruned)"},
            "pruned_events": {"type": "integer"},
            "problems": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "kind": {"type": "string"},
                        "offset": {"type": "integer"},
                        "detail": {"type": "string"},
                    },
                },
            },
        },
    }
    schemas["ForgetRequest"] = {
        "type": "object",
        "required": ["subject", "reason"],
        "additionalProperties": False,
        "properties": {
            "subject": {
                "type": "string",
                "description": "the id events were appended with, or its sub:… pseudonym",
            },
            "reason": {"type": "string", "description": "why (a request reference): recorded"},
            "by": {"type": "string", "description": "who asks (default: the token's name): recorded"},
        },
    }
    schemas["Forget"] = {
        "type": "object",
        "required": ["subject_ref", "keys_destroyed", "offset"],
        "properties": {
            "subject_ref": {"type": "string", "description": "the subject's pseudonym"},
            "keys_destroyed": WHOLE,
            "offset": {"type": "integer", "description": "the offset of the SubjectForgotten recorded"},
        },
    }
    return schemas
