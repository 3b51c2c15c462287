"""The admin endpoints: ``POST /v1/admin/forget`` crypto-shreds a data subject (admin tokens only)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ledger import LedgerError
from reliability.service.limits import read_body
from reliability.service.problems import ApiError, ApiProblem, from_ledger_error
from reliability.service.state import require

__all__ = ["post_forget"]

_FIELDS = ("subject", "reason", "by")


def _forget_request(body: bytes) -> tuple[str, str, str | None]:
    """The subject, reason and by of a forget request's JSON body."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"the body is not JSON: {exc}; nothing forgotten") from None
    if not isinstance(document, dict):
        raise ApiError(422, "the body must be a JSON object {'subject': …, 'reason': …, 'by': …}")
    problems = [ApiProblem(message="unknown field", field=k) for k in sorted(set(document) - set(_FIELDS))]
    for name in ("subject", "reason"):
        value = document.get(name)
        if not isinstance(value, str) or not value.strip():
            problems.append(ApiProblem(message="required: a non-empty string", field=name))
    by = document.get("by")
    if by is not None and not isinstance(by, str):
        problems.append(ApiProblem(message="a string, if given", field="by"))
    if problems:
        raise ApiError(422, "not a forget request; nothing forgotten", problems)
    return document["subject"], document["reason"], by


def _token_name(request: Request) -> str | None:
    """The name of the request's (already checked) bearer token, for the record's ``by``."""
    store = request.app.state.service.tokens
    token = request.headers.get("authorization", "").partition(" ")[2].strip()
    entry = store.authenticate(token) if store is not None and token else None
    return None if entry is None else str(entry.name)


async def post_forget(request: Request) -> Response:
    """Destroy a subject's keys and record a ``SubjectForgotten``; answer what was done.

    Needs an ``admin`` token. ``by`` defaults to the token's name.
    """
    state = require(request, "admin")
    subject, reason, by = _forget_request(await read_body(request, state.config))
    who = by if by is not None else _token_name(request)

    def run() -> dict[str, Any]:
        result = state.ledger.forget(subject, reason=reason, by=who)
        return {
            "subject_ref": result.subject_ref,
            "keys_destroyed": result.keys_destroyed,
            "offset": result.offset,
        }

    try:
        answer = await run_in_threadpool(run)
    except LedgerError as exc:
        raise from_ledger_error(exc) from None
    return Response(orjson.dumps(answer), media_type="application/json")
