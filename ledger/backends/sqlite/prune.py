"""Retention on SQLite: delete the oldest rows, recording the cut and the emptied streams' versions.

Runs inside the recorder's ``BEGIN IMMEDIATE`` write transaction: no append interleaves, and the
mark, the pruned streams' versions and the deletion commit together or not at all.
"""

from __future__ import annotations

from datetime import datetime

from eventsourcing.sqlite import SQLiteCursor

from ledger.backends.pruning import PruneResult, plan_prune
from ledger.backends.sqlite.layout import TABLE, first_recorded_at_or_after
from ledger.timeutil import to_epoch_us as _us


def prune_rows(c: SQLiteCursor, before: datetime, *, force: bool, pruned_at: datetime) -> PruneResult:
    """Delete the rows recorded before ``before``, held back by projections unless ``force``.

    Args:
        c: a cursor of the write transaction.
        before: rows recorded earlier are deleted.
        force: prune past the positions of stored projections.
        pruned_at: the time recorded in the prune mark.

    Raises:
        ValueError: the row at the cut is missing (the ledger needs ``verify``).
    """
    c.execute("SELECT COALESCE(MAX(offset), 0) FROM ledger_prunes")
    floor = int(c.fetchone()[0])
    first_kept = first_recorded_at_or_after(c, _us(before))
    if first_kept is None:
        c.execute(f"SELECT MAX(notification_id) FROM {TABLE}")
        wanted = max(int(c.fetchone()[0] or 0), floor)
    else:
        wanted = max(first_kept - 1, floor)
    c.execute("SELECT name, position FROM ledger_views")
    positions = {r[0]: int(r[1]) for r in c.fetchall()}
    through, held_back = plan_prune(wanted, floor, positions, force=force)
    if through <= floor:
        return PruneResult(0, floor, wanted, held_back)
    c.execute(f"SELECT chain FROM {TABLE} WHERE notification_id = ?", (through,))
    found = c.fetchone()
    if found is None:
        raise ValueError(f"cannot prune through offset {through}: its row is missing (run verify)")
    c.execute(
        "INSERT INTO ledger_pruned_streams (stream, version) "
        f"SELECT originator_id, MAX(originator_version) FROM {TABLE} WHERE notification_id <= ? "
        "GROUP BY originator_id ON CONFLICT (stream) DO UPDATE SET "
        "version = MAX(version, excluded.version)",
        (through,),
    )
    c.execute(f"DELETE FROM {TABLE} WHERE notification_id <= ?", (through,))
    events = c.sqlite_cursor.rowcount
    c.execute(
        "INSERT INTO ledger_prunes (offset, chain, recorded_at, events) VALUES (?, ?, ?, ?)",
        (through, found[0], _us(pruned_at), events),
    )
    return PruneResult(events, through, wanted, held_back)
