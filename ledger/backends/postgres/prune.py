"""Retention on PostgreSQL: delete the oldest rows, recording the cut and the emptied streams' versions.

Runs inside the recorder's write transaction, so it holds the table lock: no append interleaves,
and the mark, the pruned streams' versions and the deletion commit together or not at all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.sql import SQL

from ledger.backends.postgres.layout import Tables
from ledger.backends.pruning import PruneResult, plan_prune


def prune_rows(
    tables: Tables,
    cur: psycopg.Cursor[tuple[Any, ...]],
    before: datetime,
    *,
    force: bool,
    pruned_at: datetime,
) -> PruneResult:
    """Delete the rows recorded before ``before``, held back by projections unless ``force``.

    Args:
        tables: the ledger's tables.
        cur: a cursor of the write transaction (holding the table lock).
        before: rows recorded earlier are deleted.
        force: prune past the positions of stored projections.
        pruned_at: the time recorded in the prune mark.

    Raises:
        ValueError: the row at the cut is missing (the ledger needs ``verify``).
    """
    cur.execute(SQL('SELECT COALESCE(MAX("offset"), 0) FROM {p}').format(p=tables.prunes))
    floor = int(_one(cur))
    cur.execute(
        SQL("SELECT MAX(notification_id) FROM {t} WHERE recorded_at < %s").format(t=tables.events),
        [before],
    )
    wanted = max(int(_one(cur) or 0), floor)
    cur.execute(SQL("SELECT name, position FROM {v}").format(v=tables.views))
    positions = {r[0]: int(r[1]) for r in cur.fetchall()}
    through, held_back = plan_prune(wanted, floor, positions, force=force)
    if through <= floor:
        return PruneResult(0, floor, wanted, held_back)
    cur.execute(
        SQL("SELECT chain FROM {t} WHERE notification_id = %s").format(t=tables.events),
        [through],
    )
    found = cur.fetchone()
    if found is None:
        raise ValueError(f"cannot prune through offset {through}: its row is missing (run verify)")
    cur.execute(
        SQL(
            "INSERT INTO {p} (stream, version) "
            "SELECT originator_id, MAX(originator_version) FROM {t} WHERE notification_id <= %s "
            "GROUP BY originator_id ON CONFLICT (stream) DO UPDATE SET "
            "version = GREATEST({p}.version, EXCLUDED.version)"
        ).format(p=tables.pruned_streams, t=tables.events),
        [through],
    )
    cur.execute(SQL("DELETE FROM {t} WHERE notification_id <= %s").format(t=tables.events), [through])
    events = cur.rowcount
    cur.execute(
        SQL('INSERT INTO {p} ("offset", chain, recorded_at, events) VALUES (%s, %s, %s, %s)').format(
            p=tables.prunes
        ),
        [through, bytes(found[0]), pruned_at, events],
    )
    return PruneResult(events, through, wanted, held_back)


def _one(cur: psycopg.Cursor[tuple[Any, ...]]) -> Any:
    row = cur.fetchone()
    assert row is not None
    return row[0]
