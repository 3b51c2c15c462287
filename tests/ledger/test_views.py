"""What backends give projections, on every backend: lean scans, saved views, runner locks, waking.

A projection folds ``scan`` rows, saves its state with the offset it reached (never backwards,
never twice), runs as the one holder of its runner lock, and sleeps in ``wait_for_events``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from ledger import Ledger, PlanRevised, StepRecorded, open_ledger
from ledger.backends.base import ReadQuery, SavedView
from ledger.backends.sqlite import layout as sqlite_layout
from ledger.errors import ViewConflictError
from ledger.timeutil import to_epoch_us
from tests.conftest import MakeLedger

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def view(position: int, state: bytes = b"{}", name: str = "metrics") -> SavedView:
    return SavedView(name, position, state, f"digest-{position}", T0 + timedelta(seconds=position))


@pytest.fixture
def ledger(make_ledger: MakeLedger) -> Ledger:
    opened = make_ledger()
    opened.append([StepRecorded(workflow_id="w", agent="a", success=True, occurred_at=T0)])
    opened.append([PlanRevised(occurred_at=T0 + timedelta(minutes=i)) for i in range(1, 6)])
    return opened


def test_scan_yields_lean_rows_in_offset_order(ledger: Ledger) -> None:
    rows = {r.offset: r for r in ledger.read_rows(ReadQuery())}

    scanned = list(ledger.scan())

    assert [s[0] for s in scanned] == [1, 2, 3, 4, 5, 6]
    assert [s[1] for s in scanned] == ["StepRecorded"] + ["PlanRevised"] * 5
    assert [s[2] for s in scanned] == [to_epoch_us(rows[s[0]].occurred_at) for s in scanned]
    assert [bytes(s[3]) for s in scanned] == [rows[s[0]].state for s in scanned]


@pytest.mark.parametrize("page_size", [1, 2, 4, 100])
def test_scan_pages_through_an_offset_range(ledger: Ledger, page_size: int) -> None:
    assert [s[0] for s in ledger.scan(page_size=page_size)] == [1, 2, 3, 4, 5, 6]
    assert [s[0] for s in ledger.scan(after=2, through=5, page_size=page_size)] == [3, 4, 5]
    assert [s[0] for s in ledger.scan(after=6, page_size=page_size)] == []


def test_a_saved_view_loads_back(ledger: Ledger) -> None:
    saved = view(4, b'{"steps": 1}')

    ledger.backend.save_view(saved)

    assert ledger.backend.load_view("metrics") == saved
    assert ledger.backend.load_view("never-saved") is None


def test_a_view_position_never_moves_backwards_or_repeats(ledger: Ledger) -> None:
    backend = ledger.backend
    backend.save_view(view(4, b"four"))

    for stale in (3, 4):
        with pytest.raises(ViewConflictError) as caught:
            backend.save_view(view(stale, b"stale"))
        assert (caught.value.name, caught.value.position) == ("metrics", stale)
    assert backend.load_view("metrics") == view(4, b"four")

    backend.save_view(view(6, b"six"))
    assert backend.load_view("metrics") == view(6, b"six")


def test_views_are_independent_of_each_other(ledger: Ledger) -> None:
    ledger.backend.save_view(view(5, name="costs"))
    ledger.backend.save_view(view(2, name="slo"))

    assert ledger.backend.load_view("costs") == view(5, name="costs")
    assert ledger.backend.load_view("slo") == view(2, name="slo")


def test_a_reset_lets_a_rebuilt_view_switch_over_at_a_lower_position(ledger: Ledger) -> None:
    ledger.backend.save_view(view(6, b"old"))

    ledger.backend.save_view(view(3, b"rebuilt"), reset=True)

    assert ledger.backend.load_view("metrics") == view(3, b"rebuilt")


def test_a_deleted_view_is_forgotten_with_its_position(ledger: Ledger) -> None:
    ledger.backend.save_view(view(5))

    ledger.backend.delete_view("metrics")

    assert ledger.backend.load_view("metrics") is None
    ledger.backend.save_view(view(1))
    assert ledger.backend.load_view("metrics") == view(1)


@pytest.fixture
def second_handle(ledger: Ledger, ledger_url: str) -> Iterator[Ledger]:
    """Another handle on the same store: a second ledger where one exists beyond this process."""
    if ledger_url.startswith("memory"):
        yield ledger
        return
    with open_ledger(ledger_url) as other:
        yield other


def test_one_runner_at_a_time_holds_a_projection(ledger: Ledger, second_handle: Ledger) -> None:
    first = ledger.backend.try_lock_runner("metrics")
    assert first is not None
    try:
        assert second_handle.backend.try_lock_runner("metrics") is None
        assert ledger.backend.try_lock_runner("metrics") is None
        other = second_handle.backend.try_lock_runner("costs")
        assert other is not None
        other.release()
    finally:
        first.release()

    again = second_handle.backend.try_lock_runner("metrics")
    assert again is not None
    again.release()


def test_wait_for_events_answers_at_once_when_events_exist(ledger: Ledger) -> None:
    assert ledger.backend.wait_for_events(after=5, timeout=0) is True
    assert ledger.backend.wait_for_events(after=6, timeout=0) is False


def test_wait_for_events_wakes_when_another_writer_appends(ledger: Ledger, second_handle: Ledger) -> None:
    woke: list[bool] = []
    waiting = threading.Thread(target=lambda: woke.append(ledger.backend.wait_for_events(6, timeout=30)))
    waiting.start()

    second_handle.append(PlanRevised())
    waiting.join(timeout=60)

    assert woke == [True]


@pytest.mark.postgres
def test_postgres_stores_saved_states_uncompressed_and_reopening_keeps_it(
    pg_url: str, pg_server_url: str, pg_schema: str
) -> None:
    # Saved states are numpy arrays that barely compress; TOAST compression made every save
    # several times slower. Opening a ledger made before this sets it (once).
    def storage() -> str:
        with psycopg.connect(pg_server_url) as conn:
            row = conn.execute(
                "SELECT attstorage FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'state'",
                [f"{pg_schema}.ledger_views"],
            ).fetchone()
            assert row is not None
            return str(row[0])

    open_ledger(pg_url).close()
    assert storage() == "e"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f"ALTER TABLE {pg_schema}.ledger_views ALTER COLUMN state SET STORAGE EXTENDED")
    with open_ledger(pg_url) as ledger:
        assert storage() == "e"
        state = bytes(range(256)) * 8192  # 2 MiB, stored and read back intact
        ledger.backend.save_view(view(1, state))
        loaded = ledger.backend.load_view("metrics")
        assert loaded is not None and loaded.state == state


def test_sqlite_time_to_offset_probes_seek_the_primary_key_and_never_scan(tmp_path: Path) -> None:
    # Without an index on recorded_at, offset_at is a binary search whose every query must be
    # a primary-key seek: a scan (as MIN and MAX in one SELECT plan to) makes it O(rows).
    url = f"sqlite:///{tmp_path / 'l.db'}"
    with open_ledger(url) as ledger:
        ledger.append([PlanRevised(occurred_at=T0) for _ in range(50)])
    conn = sqlite3.connect(tmp_path / "l.db")
    try:
        for query, params in (
            (sqlite_layout.OFFSET_RANGE_SQL, ()),
            (sqlite_layout.FIRST_ROW_FROM_SQL, (1,)),
        ):
            plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + query, params)]
            assert not any(step.startswith("SCAN ledger_events") for step in plan), plan
            assert any(step.startswith("SEARCH ledger_events") for step in plan), plan
    finally:
        conn.close()
