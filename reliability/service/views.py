"""The read-only views: ``/v1/report``, ``/v1/workflows``, ``/v1/workflows/{id}/trail`` and ``/v1/verify``.

Each is what the matching ``rledger`` command prints (the same functions build it), computed in a
worker thread so the event loop keeps serving while a report folds.
"""

from __future__ import annotations

import argparse
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ledger import LedgerError
from reliability.commands.report import full_report, parse_budget, report_document
from reliability.commands.store import verify_document
from reliability.service.dashboard.data import DashboardData
from reliability.service.documents import dumps, trail_document
from reliability.service.params import boolean, known_only, whole_number, window
from reliability.service.problems import ApiError, ApiProblem, from_ledger_error
from reliability.service.state import ServiceState, require
from reliability.service.workflows import WorkflowIndex

__all__ = ["dashboard_of", "get_report", "get_trail", "get_verify", "get_workflows"]


def _json(obj: Any) -> Response:
    return Response(dumps(obj), media_type="application/json")


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
        # The server's facades, kept between requests (shared with the dashboard's series): each
        # report folds only the events appended since the last one; --budget overrides apply to
        # this request only (full_report clears them after).
        reports = full_report(state.ledger, args, dashboard_of(state).facades(include))
        return report_document(reports, include_replays=include)

    return _json(await _in_thread(state, build))


def dashboard_of(state: ServiceState) -> DashboardData:
    """The server's long-lived facades and series (made on first use; call with the lock held)."""
    data: DashboardData | None = state.caches.get("dashboard")
    if data is None:
        data = state.caches["dashboard"] = DashboardData(state.ledger)
    return data


async def get_workflows(request: Request) -> Response:
    """Workflows in order of their first event, with outcome, steps and cost; paged by ``after``."""
    state = require(request, "read")
    known_only(request, ("after", "limit", "outcome", "agent"))
    after = whole_number(request, "after", 0) or 0
    limit = whole_number(request, "limit", 100, maximum=state.config.max_page) or 0
    outcome = request.query_params.get("outcome")
    agent = request.query_params.get("agent")
    if outcome is not None and outcome not in ("running", "succeeded", "failed"):
        raise ApiError(
            422,
            f"outcome '{outcome}' is not running, succeeded or failed",
            [ApiProblem(message="not running, succeeded or failed", field="outcome")],
        )
    index: WorkflowIndex = state.caches.setdefault("workflows", WorkflowIndex())

    def build() -> dict[str, Any]:
        index.catch_up(state.ledger)
        page = index.page(after, limit, outcome, agent) if limit else []
        return {
            "workflows": [s.to_json() for s in page],
            "next_after": page[-1].first_offset if page and len(page) == limit else None,
            "as_of_offset": index.position,
        }

    return _json(await _in_thread(state, build))


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
        return builder.explain(trail) if fmt == "markdown" else trail_document(trail)

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
