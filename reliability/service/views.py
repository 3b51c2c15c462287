"""The read-only views: ``/v1/report``, ``/v1/workflows``, ``/v1/workflows/{id}/trail`` and ``/v1/verify``.

Each is what the matching ``rledger`` command prints (the same functions build it), computed in a
worker thread so the event loop keeps serving while a report folds.
"""

from __future__ import annotations

import argparse
import dataclasses
from decimal import Decimal
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ledger import LedgerError
from reliability.commands.report import full_report, parse_budget, report_document, report_facades
from reliability.commands.store import verify_document
from reliability.service.params import boolean, known_only, whole_number, window
from reliability.service.problems import ApiError, ApiProblem, from_ledger_error
from reliability.service.state import ServiceState, require
from reliability.service.workflows import WorkflowIndex

__all__ = ["get_report", "get_trail", "get_verify", "get_workflows"]


def _json(obj: Any) -> Response:
    return Response(orjson.dumps(obj, default=_default), media_type="application/json")


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:f}"
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        return dump(mode="json")
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    return str(value)


async def _in_thread(state: ServiceState, fn: Any, *args: Any) -> Any:
    def locked() -> Any:
        with state.lock:
            return fn(*args)

    try:
        return await run_in_threadpool(locked)
    except LedgerError as exc:
        raise from_ledger_error(exc) from None


async def get_report(request: Request) -> Response:
    """What ``rledger report --format json`` prints, for the same parameters."""
    state = require(request, "read")
    known_only(request, ("since", "until", "as_of", "budget", "include_replays"))
    since, until = window(request)
    as_of = whole_number(request, "as_of")
    budgets = []
    for raw in request.query_params.getlist("budget"):
        try:
            budgets.append(parse_budget(raw))
        except argparse.ArgumentTypeError as exc:
            raise ApiError(422, str(exc), [ApiProblem(message=str(exc), field="budget")]) from None
    include = boolean(request, "include_replays")
    args = argparse.Namespace(since=since, until=until, as_of=as_of, budget=budgets, include_replays=include)

    def build() -> dict[str, Any]:
        head = state.ledger.latest_offset()
        if as_of is not None and as_of > head:
            raise ApiError(
                422,
                f"as_of {as_of} is outside the ledger (0..{head})",
                [ApiProblem(message=f"outside the ledger (0..{head})", field="as_of")],
            )
        # The facades stay between requests (one set per replay scope): each report folds only
        # the events appended since the last one, instead of loading or folding the ledger again.
        key = f"report:{'with' if include else 'without'}-replays"
        facades = state.caches.get(key)
        if facades is None:
            facades = state.caches[key] = report_facades(state.ledger, include)
        return report_document(full_report(state.ledger, args, facades), include_replays=include)

    return _json(await _in_thread(state, build))


async def get_workflows(request: Request) -> Response:
    """Workflows in order of their first event, with outcome, steps and cost; paged by ``after``."""
    state = require(request, "read")
    known_only(request, ("after", "limit", "outcome"))
    after = whole_number(request, "after", 0) or 0
    limit = whole_number(request, "limit", 100, maximum=state.config.max_page) or 0
    outcome = request.query_params.get("outcome")
    if outcome is not None and outcome not in ("running", "succeeded", "failed"):
        raise ApiError(
            422,
            f"outcome '{outcome}' is not running, succeeded or failed",
            [ApiProblem(message="not running, succeeded or failed", field="outcome")],
        )
    index: WorkflowIndex = state.caches.setdefault("workflows", WorkflowIndex())

    def build() -> dict[str, Any]:
        index.catch_up(state.ledger)
        page = index.page(after, limit, outcome) if limit else []
        return {
            "workflows": [s.to_json() for s in page],
            "next_after": page[-1].first_offset if page and len(page) == limit else None,
            "as_of_offset": index.position,
        }

    return _json(await _in_thread(state, build))


def _trail_json(trail: Any) -> dict[str, Any]:
    fields = {f.name for f in dataclasses.fields(trail)} - {"history", "ledger", "build_started", "tools"}
    out = {name: getattr(trail, name) for name in sorted(fields)}
    out["completed"] = trail.completed
    return out


async def get_trail(request: Request) -> Response:
    """A workflow's decision trail as JSON, or as Markdown with ``?format=markdown`` (recording MTTE)."""
    from replay import CheckpointNotFoundError, DecisionTrailBuilder, WorkflowNotFoundError

    state = require(request, "read")
    known_only(request, ("format", "checkpoint"))
    workflow = request.path_params["workflow_id"]
    fmt = request.query_params.get("format", "json")
    if fmt not in ("json", "markdown"):
        raise ApiError(
            422,
            f"format '{fmt}' is not json or markdown",
            [ApiProblem(message="not json or markdown", field="format")],
        )
    checkpoint = request.query_params.get("checkpoint")

    def build() -> Any:
        builder = DecisionTrailBuilder(state.ledger)
        try:
            trail = builder.build(workflow, checkpoint)
        except (WorkflowNotFoundError, CheckpointNotFoundError) as exc:
            raise ApiError(404, f"not found: {exc}") from None
        return builder.explain(trail) if fmt == "markdown" else _trail_json(trail)

    result = await _in_thread(state, build)
    if fmt == "markdown":
        return Response(result, media_type="text/markdown; charset=utf-8")
    return _json(result)


async def get_verify(request: Request) -> Response:
    """Recompute the hash chain: what ``rledger verify --format json`` prints."""
    state = require(request, "read")
    known_only(request, ())

    def build() -> dict[str, Any]:
        return verify_document(state.ledger.verify())

    return _json(await _in_thread(state, build))
