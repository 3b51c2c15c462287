"""Query parameters, checked as the CLI checks its options: each bad one is a 422 naming it."""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request

from ledger import EVENT_TYPES
from reliability.service.problems import ApiError, ApiProblem

__all__ = ["boolean", "event_types", "known_only", "time_param", "whole_number", "window"]


def _bad(name: str, message: str) -> ApiError:
    return ApiError(422, f"query parameter '{name}': {message}", [ApiProblem(message=message, field=name)])


def known_only(request: Request, allowed: tuple[str, ...]) -> None:
    """Refuse parameters the endpoint does not take (a typo must not answer unfiltered)."""
    unknown = sorted(set(request.query_params) - set(allowed))
    if unknown:
        raise ApiError(
            422,
            f"unknown query parameter(s) {', '.join(unknown)}; "
            f"this endpoint takes {', '.join(allowed) or 'none'}",
            [ApiProblem(message="unknown query parameter", field=name) for name in unknown],
        )


def whole_number(
    request: Request, name: str, default: int | None = None, *, maximum: int | None = None
) -> int | None:
    """A parameter that is a whole number of 0 or more (capped at ``maximum``)."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not raw.isascii():
        raise _bad(name, f"'{raw}' is not a whole number of 0 or more")
    value = int(raw)
    return min(value, maximum) if maximum is not None else value


def time_param(request: Request, name: str) -> datetime | None:
    """An ISO 8601 time (``Z`` accepted; naive means UTC to the ledger)."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise _bad(name, f"'{raw}' is not an ISO 8601 time (e.g. 2026-01-31T12:00:00Z)") from None


def window(request: Request) -> tuple[datetime | None, datetime | None]:
    """``since`` and ``until``, refusing a window that ends before it starts."""
    since, until = time_param(request, "since"), time_param(request, "until")
    if since is not None and until is not None:
        a = since if since.tzinfo else since.replace(tzinfo=until.tzinfo)
        b = until if until.tzinfo else until.replace(tzinfo=since.tzinfo)
        if a > b:
            raise _bad("since", f"{since.isoformat()} is later than until {until.isoformat()}")
    return since, until


def event_types(request: Request) -> list[str] | None:
    """Every ``type`` given (repeatable), each a stored event type."""
    types = request.query_params.getlist("type")
    for value in types:
        if value not in EVENT_TYPES:
            raise _bad("type", f"unknown event type '{value}'; known: {', '.join(sorted(EVENT_TYPES))}")
    return types or None


def boolean(request: Request, name: str) -> bool:
    """A flag: ``true``/``1`` or ``false``/``0`` (absent is false)."""
    raw = request.query_params.get(name)
    if raw is None:
        return False
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise _bad(name, f"'{raw}' is not true or false")
