"""SQL shared by the SQL backends: the ``WHERE`` clause of a read."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from ledger.backends.rows import ReadQuery


def where_clause(
    query: ReadQuery,
    placeholder: str,
    time_param: Callable[[datetime], object],
    *,
    stream_no_sql: str | None = None,
) -> tuple[str, list[object]]:
    """Return the SQL ``WHERE`` body and parameters for ``query`` (shared by SQL backends).

    ``stream_no_sql`` is SQL for the indexed key of the stream named by a parameter (SQLite's
    stream number): rows are found by it and still matched on the name. Without it, rows are
    matched on the name alone.
    """
    where = [f"notification_id > {placeholder}"]
    params: list[object] = [query.after]
    if query.through is not None:
        where.append(f"notification_id <= {placeholder}")
        params.append(query.through)
    if query.stream is not None:
        if stream_no_sql is not None:
            where.append(f"stream_no = {stream_no_sql}")
            params.append(query.stream)
        where.append(f"originator_id = {placeholder}")
        params.append(query.stream)
    if query.agent is not None:
        where.append(f"agent = {placeholder}")
        params.append(query.agent)
    if query.types:
        where.append(f"topic IN ({','.join([placeholder] * len(query.types))})")
        params.extend(query.types)
    if query.since is not None:
        where.append(f"occurred_at >= {placeholder}")
        params.append(time_param(query.since))
    if query.until is not None:
        where.append(f"occurred_at < {placeholder}")
        params.append(time_param(query.until))
    return " AND ".join(where), params
