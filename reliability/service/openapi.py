"""The OpenAPI 3.1 document served at ``/openapi.json``: every endpoint, its parameters and answers.

Hand-written paths; the event schemas are the ledger's own (:func:`ledger.event_json_schema`,
pydantic's JSON Schema of the event union), moved under ``components/schemas``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from ledger import EVENT_TYPES
from reliability.service.api_schemas import component_schemas

__all__ = ["openapi_document"]

ERRORS = {
    "400": "unreadable input (the body is not JSON, a bad Content-Length)",
    "401": "no token, or not a valid one",
    "403": "the token's scope does not cover this endpoint",
    "408": "the body was not sent in time",
    "413": "over a limit: body size, events per request or NDJSON line length",
    "415": "a Content-Type the endpoint does not take",
    "422": "invalid input: every problem listed with its index and field; nothing written",
    "503": "the ledger cannot be reached",
}
JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _errors(*codes: str) -> dict[str, Any]:
    return {c: {"description": ERRORS[c], "content": {JSON: {"schema": _ref("Error")}}} for c in codes}


def _ok(description: str, media: str = JSON, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"200": {"description": description, "content": {media: {"schema": schema or {"type": "object"}}}}}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


TIME = {"type": "string", "format": "date-time"}
WHOLE = {"type": "integer", "minimum": 0}
READ = ("401", "403", "422", "503")
FILTERS = [
    _query("workflow", {"type": "string"}, "only this workflow's events"),
    _query("agent", {"type": "string"}, "only events of this agent"),
    _query(
        "type",
        {"type": "array", "items": {"type": "string", "enum": sorted(EVENT_TYPES)}},
        "only these event types (repeatable)",
    ),
]
WINDOW = [
    _query("since", TIME, "occurred at or after (ISO 8601; naive = UTC)"),
    _query("until", TIME, "occurred before (half-open window)"),
]


def _paths() -> dict[str, Any]:
    secured: list[dict[str, list[str]]] = [{"bearer": []}]
    return {
        "/v1/events": {
            "post": {
                "summary": "Append events atomically and idempotently (group commit)",
                "security": secured,
                "parameters": [
                    _query("expected_version", WHOLE, "the version the batch's one stream must be at")
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {
                            "schema": {
                                "oneOf": [{"type": "array", "items": _ref("Event")}, _ref("EventBatch")]
                            }
                        },
                        "application/x-ndjson": {
                            "schema": {"type": "string", "description": "one event per line"}
                        },
                    },
                },
                "responses": {
                    **_ok("the offsets of the events, in order", schema=_ref("AppendResult")),
                    "409": {
                        "description": "a version conflict or an event id stored with another payload",
                        "content": {JSON: {"schema": _ref("Error")}},
                    },
                    **_errors("400", "401", "403", "408", "413", "415", "422", "503"),
                },
            },
            "get": {
                "summary": "Stored events in offset order as NDJSON; the next page starts after X-Next-After",
                "security": secured,
                "parameters": [
                    *FILTERS,
                    *WINDOW,
                    _query("after", WHOLE, "only offsets after this (the cursor)"),
                    _query("limit", WHOLE, "at most this many (default 1000, capped by the server)"),
                ],
                "responses": {
                    "200": {
                        "description": "one event per line, with offset, stream, version and recorded_at",
                        "headers": {
                            "X-Next-After": {
                                "schema": {"type": "string"},
                                "description": "the cursor of the next page (when full)",
                            }
                        },
                        "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
                    },
                    **_errors(*READ),
                },
            },
        },
        "/v1/events/stream": {
            "get": {
                "summary": "Follow new events as Server-Sent Events (id: offset; resumes from Last-Event-ID)",
                "security": secured,
                "parameters": [
                    *FILTERS,
                    _query("after", WHOLE, "start after this offset"),
                    {
                        "name": "Last-Event-ID",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string"},
                        "description": "resume after this offset",
                    },
                ],
                "responses": {
                    **_ok("an endless event stream", "text/event-stream", {"type": "string"}),
                    **_errors(*READ),
                },
            }
        },
        "/v1/traces": {
            "post": {
                "summary": "OTLP/HTTP ExportTraceServiceRequest (protobuf or JSON): GenAI spans as events",
                "security": secured,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
                        JSON: {"schema": {"type": "object"}},
                    },
                },
                "responses": {
                    "200": {
                        "description": "ExportTraceServiceResponse (partial_success lists rejected spans)",
                        "content": {
                            "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
                            JSON: {"schema": {"type": "object"}},
                        },
                    },
                    "501": {
                        "description": "the OTLP receiver is not in this build",
                        "content": {JSON: {"schema": _ref("Error")}},
                    },
                    **_errors("400", "401", "403", "408", "413", "415", "422", "503"),
                },
            }
        },
        "/v1/report": {
            "get": {
                "summary": "Health verdicts, metrics, SLOs, costs and budgets: rledger report --format json",
                "security": secured,
                "parameters": [
                    *WINDOW,
                    _query("as_of", WHOLE, "the ledger as it was at this offset"),
                    _query(
                        "budget",
                        {"type": "array", "items": {"type": "string"}},
                        "NAME=LIMIT[/HOURS], an override for this report (repeatable)",
                    ),
                    _query("include_replays", {"type": "boolean"}, "count replay runs"),
                ],
                "responses": {
                    **_ok(
                        "the report",
                        schema={
                            "type": "object",
                            "required": ["metrics", "slo", "costs", "health", "include_replays"],
                        },
                    ),
                    **_errors(*READ),
                },
            }
        },
        "/v1/workflows": {
            "get": {
                "summary": "Workflows in order of their first event, with outcome, steps and cost",
                "security": secured,
                "parameters": [
                    _query("after", WHOLE, "only workflows whose first offset is after this"),
                    _query("limit", WHOLE, "at most this many (default 100)"),
                    _query(
                        "outcome",
                        {"type": "string", "enum": ["running", "succeeded", "failed"]},
                        "only workflows with this outcome",
                    ),
                    _query("agent", {"type": "string"}, "only workflows in which this agent took a step"),
                ],
                "responses": {
                    **_ok(
                        "a page of workflows",
                        schema={
                            "type": "object",
                            "required": ["workflows", "next_after", "as_of_offset"],
                            "properties": {
                                "workflows": {"type": "array", "items": _ref("Workflow")},
                                "next_after": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
                                "as_of_offset": {"type": "integer"},
                            },
                        },
                    ),
                    **_errors(*READ),
                },
            }
        },
        "/v1/workflows/{workflow_id}/trail": {
            "get": {
                "summary": "A workflow's decision trail (Markdown records an MTTE measurement)",
                "security": secured,
                "parameters": [
                    {"name": "workflow_id", "in": "path", "required": True, "schema": {"type": "string"}},
                    _query(
                        "format",
                        {"type": "string", "enum": ["json", "markdown"]},
                        "json (default) or markdown",
                    ),
                    _query("checkpoint", {"type": "string"}, "up to this checkpoint, event id or offset"),
                ],
                "responses": {
                    "200": {
                        "description": "the trail",
                        "content": {
                            JSON: {"schema": {"type": "object"}},
                            "text/markdown": {"schema": {"type": "string"}},
                        },
                    },
                    "404": {
                        "description": "no such workflow or checkpoint",
                        "content": {JSON: {"schema": _ref("Error")}},
                    },
                    **_errors(*READ),
                },
            }
        },
        "/v1/verify": {
            "get": {
                "summary": "Recompute the hash chain: rledger verify --format json",
                "security": secured,
                "responses": {**_ok("the verdict", schema=_ref("Verify")), **_errors(*READ)},
            }
        },
        "/v1/admin/forget": {
            "post": {
                "summary": "Crypto-shred a data subject: destroy its keys, record SubjectForgotten (admin)",
                "security": secured,
                "requestBody": {"required": True, "content": {JSON: {"schema": _ref("ForgetRequest")}}},
                "responses": {
                    **_ok("what was destroyed and where it is recorded", schema=_ref("Forget")),
                    **_errors("400", "401", "403", "413", "422", "503"),
                },
            }
        },
        "/v1/series": {
            "get": {
                "summary": "The seven metrics overall and per agent, per hour or day; spend per day",
                "security": secured,
                "responses": {
                    **_ok(
                        "the series (a bucket without data is null)",
                        schema={
                            "type": "object",
                            "required": ["bucket_seconds", "times", "metrics", "agents", "costs"],
                        },
                    ),
                    **_errors(*READ),
                },
            }
        },
        "/v1/signals": {
            "get": {
                "summary": "Breaker states and transitions, alerts with deliveries, mode violations, replays",
                "security": secured,
                "responses": {
                    **_ok(
                        "what the dashboard's breaker, alert and workflow pages list",
                        schema={
                            "type": "object",
                            "required": ["breakers", "transitions", "alerts", "replays"],
                        },
                    ),
                    **_errors(*READ),
                },
            }
        },
        "/": {
            "get": {
                "summary": "The dashboard (an HTML page; its script asks for a read token)",
                "security": [],
                "responses": _ok("the page", "text/html", {"type": "string"}),
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus text format",
                "security": secured,
                "responses": {
                    **_ok("the metrics", "text/plain", {"type": "string"}),
                    **_errors("401", "403", "503"),
                },
            }
        },
        "/healthz": {
            "get": {
                "summary": "The process is up (no token)",
                "security": [],
                "responses": _ok("up", schema={"type": "object", "required": ["status"]}),
            }
        },
        "/readyz": {
            "get": {
                "summary": "The ledger is reachable (no token)",
                "security": [],
                "responses": {
                    **_ok("ready", schema={"type": "object", "required": ["status"]}),
                    **_errors("503"),
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document (no token)",
                "security": [],
                "responses": _ok("the OpenAPI document"),
            }
        },
    }


@cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "reliability-ledger",
            "version": "1",
            "description": "An event-sourced reliability ledger for AI-agent systems, over HTTP. Errors are "
            '{"error": …, "problems": [{"index", "field", "message"}]}.',
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": _paths(),
        "components": {
            "schemas": component_schemas(),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a token from `rledger token create` (scopes ingest, read, admin)",
                }
            },
        },
    }
