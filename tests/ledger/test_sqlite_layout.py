"""SQLite's numbered streams: files made before them convert on open; numbers stay true.

The fixture ``ledger-v1-name-keyed-streams.db`` was written by the ledger as of commit 29d16a7
(stream index on the stream's name): 16 events in workflows wf-0..wf-2 (a start and four steps
each) and one planner event without a workflow.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from ledger import DuplicateEventError, PlanRevised, StepRecorded, open_ledger
from ledger.backends import sqlite as sqlite_backend
from ledger.backends.base import ReadQuery

FIXTURE = Path(__file__).parent / "fixtures" / "ledger-v1-name-keyed-streams.db"


def _indexes(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}


def test_a_file_with_name_keyed_streams_is_converted_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    shutil.copy(FIXTURE, path)
    assert "ledger_events_stream" in _indexes(path)

    with open_ledger(f"sqlite:///{path}") as ledger:
        report = ledger.verify()
        assert report.ok and report.events_checked == 16
        assert [r.version for r in ledger.read(workflow_id="wf-1")] == [1, 2, 3, 4, 5]
        assert ledger.backend.stream_version("wf:wf-2") == 5
        assert ledger.backend.stream_version("agent:planner") == 1
        assert ledger.backend.stats().streams == 4
        # Appending goes on from the stored versions, in old streams and new ones alike.
        result = ledger.append(
            [
                StepRecorded(workflow_id="wf-1", agent="coder", success=True),
                StepRecorded(workflow_id="wf-new", agent="coder", success=True),
                PlanRevised(agent="planner", reason="again"),
            ]
        )
        assert result.offsets == (17, 18, 19)
        rows = {r.offset: (r.stream, r.version) for r in ledger.read(after=16)}
        assert rows == {17: ("wf:wf-1", 6), 18: ("wf:wf-new", 1), 19: ("agent:planner", 2)}
        assert [r[0] for r in ledger.backend.read_stream("wf:wf-1")][-1] == 17
        assert ledger.verify().ok

    indexes = _indexes(path)
    assert "ledger_events_stream_no" in indexes and "ledger_events_stream" not in indexes
    with sqlite3.connect(path) as conn:
        numbers = dict(conn.execute("SELECT name, no FROM ledger_streams"))
        # Each stream is numbered by its lowest offset (old ones) or its first offset (new ones).
        first = dict(conn.execute("SELECT originator_id, MIN(notification_id) FROM ledger_events GROUP BY 1"))
        assert numbers == first
        assert conn.execute("SELECT COUNT(*) FROM ledger_events WHERE stream_no IS NULL").fetchone() == (0,)
    # Opening a converted file again changes nothing.
    with open_ledger(f"sqlite:///{path}") as ledger:
        assert ledger.latest_offset() == 19 and ledger.verify().ok


def test_stream_reads_and_version_look_ups_seek_the_stream_number_index(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    with open_ledger(f"sqlite:///{path}") as ledger:
        ledger.append([PlanRevised(workflow_id=f"wf-{i % 5}") for i in range(50)])
    queries = [
        f"SELECT notification_id, state FROM ledger_events WHERE stream_no = {sqlite_backend._STREAM_NO_OF} "
        "ORDER BY originator_version",
        "SELECT (SELECT MAX(originator_version) FROM ledger_events "
        "WHERE stream_no = (SELECT no FROM ledger_streams WHERE name = ?))",
    ]
    with sqlite3.connect(path) as conn:
        for query in queries:
            plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + query, ("wf:wf-1",))]
            assert any("INDEX ledger_events_stream_no (stream_no=?)" in step for step in plan), plan
            assert not any(step.startswith("SCAN ledger_events") for step in plan), plan


def test_a_failed_append_leaves_no_stream_number_behind(tmp_path: Path) -> None:
    with open_ledger(f"sqlite:///{tmp_path / 'l.db'}") as ledger:
        stored = PlanRevised(workflow_id="wf-a", reason="first")
        ledger.append([stored])
        clash = stored.model_copy(update={"reason": "a different payload"})
        with pytest.raises(DuplicateEventError):
            ledger.append([PlanRevised(workflow_id="wf-b"), PlanRevised(workflow_id="wf-b"), clash])
        assert "wf:wf-b" not in ledger.backend._stream_nos  # type: ignore[attr-defined]
        assert ledger.append([PlanRevised(workflow_id="wf-b")]).offsets == (2,)
        assert [(r.offset, r.version) for r in ledger.read(stream="wf:wf-b")] == [(2, 1)]
        with sqlite3.connect(tmp_path / "l.db") as conn:
            assert dict(conn.execute("SELECT name, no FROM ledger_streams")) == {"wf:wf-a": 1, "wf:wf-b": 2}


def test_ledgers_sharing_a_file_agree_on_the_numbers_of_streams_either_starts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'l.db'}"
    with open_ledger(url) as one, open_ledger(url) as two:
        one.append([PlanRevised(workflow_id="wf-x", reason="one")])
        two.append([PlanRevised(workflow_id="wf-x", reason="two"), PlanRevised(workflow_id="wf-y")])
        one.append([PlanRevised(workflow_id="wf-y", reason="one"), PlanRevised(workflow_id="wf-x")])
        for ledger in (one, two):
            assert [(r.offset, r.version) for r in ledger.read(workflow_id="wf-x")] == [
                (1, 1),
                (2, 2),
                (5, 3),
            ]
            assert [(r.offset, r.version) for r in ledger.read(workflow_id="wf-y")] == [(3, 1), (4, 2)]
            rows = ledger.read_rows(ReadQuery(stream="wf:wf-y"))
            assert [r.offset for r in rows] == [3, 4]
            assert ledger.verify().ok
