"""SQLite's numbered streams: files made before them convert on open; numbers stay true.

The fixture ``ledger-v1-name-keyed-streams.db`` was written by the ledger as of commit 29d16a7
(stream index on the stream's name): 16 events in workflows wf-0..wf-2 (a start and four steps
each) and one planner event without a workflow.
"""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ledger import DuplicateEventError, PlanRevised, StepRecorded, open_ledger
from ledger import verify as verify_module
from ledger.backends import sql as sql_backend
from ledger.backends.base import ReadQuery
from ledger.backends.sqlite import layout as sqlite_layout
from ledger.backends.sqlite import recorder as sqlite_recorder

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
        # Converted streams are numbered by their lowest offset, new ones after the highest.
        assert numbers == {"wf:wf-0": 1, "wf:wf-1": 2, "wf:wf-2": 3, "agent:planner": 16, "wf:wf-new": 17}
        assert conn.execute("SELECT COUNT(*) FROM ledger_events WHERE stream_no IS NULL").fetchone() == (0,)
    # Opening a converted file again changes nothing.
    with open_ledger(f"sqlite:///{path}") as ledger:
        assert ledger.latest_offset() == 19 and ledger.verify().ok


def test_stream_reads_and_version_look_ups_seek_the_stream_number_index(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    with open_ledger(f"sqlite:///{path}") as ledger:
        ledger.append([PlanRevised(workflow_id=f"wf-{i % 5}") for i in range(50)])
    # The queries the backend runs: a stream's rows, its last version, a filtered read.
    where, params = sql_backend.where_clause(
        ReadQuery(after=0, stream="wf:wf-1"),
        "?",
        int,
        stream_no_sql=sqlite_layout.STREAM_NO_OF.format(name="?"),
    )
    queries = [
        (sqlite_layout.READ_STREAM_SQL, ("wf:wf-1",), False),
        (f"SELECT ({sqlite_layout.LAST_VERSION_OF.format(name='?1')})", ("wf:wf-1",), False),
        (f"SELECT * FROM ledger_events WHERE {where} ORDER BY notification_id LIMIT 10", params, True),
    ]
    with sqlite3.connect(path) as conn:
        for query, args, sorts in queries:
            plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + query, args)]
            assert any("INDEX ledger_events_stream_no (stream_no=?)" in step for step in plan), plan
            assert not any(step.startswith("SCAN ledger_events") for step in plan), plan
            # In index order: only the offset-ordered read sorts (one stream's rows, not the table).
            assert any("TEMP B-TREE" in step for step in plan) == sorts, plan


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


def _old_writer_insert(path: Path, offset: int, stream: str, version: int) -> None:
    """Insert a row the way rledger did before numbered streams (no stream_no)."""
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO ledger_events (notification_id, originator_id, originator_version, topic, "
            "event_id, agent, occurred_at, recorded_at, state, chain) "
            "VALUES (?, ?, ?, 'PlanRevised', randomblob(16), NULL, 0, 0, x'7b7d', zeroblob(32))",
            (offset, stream, version),
        )


def test_an_older_writer_is_refused_on_a_converted_file_and_its_index_dropped(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    shutil.copy(FIXTURE, path)
    open_ledger(f"sqlite:///{path}").close()  # converts

    # A row without a number would be invisible to stream reads: refused, not stored.
    with pytest.raises(sqlite3.IntegrityError, match="upgrade every rledger"):
        _old_writer_insert(path, 17, "wf:wf-1", 6)
    # An older rledger opening the file adds its name-keyed index back; the next open drops it.
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE UNIQUE INDEX ledger_events_stream ON ledger_events (originator_id, originator_version)"
        )
    with open_ledger(f"sqlite:///{path}") as ledger:
        assert "ledger_events_stream" not in _indexes(path)
        assert ledger.append(PlanRevised(workflow_id="wf-1")).offsets == (17,)
        assert ledger.verify().ok


def test_a_new_file_refuses_a_row_without_a_stream_number(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    with open_ledger(f"sqlite:///{path}") as ledger:
        ledger.append(PlanRevised(workflow_id="a"))
    with pytest.raises(sqlite3.IntegrityError, match="stream_no"):
        _old_writer_insert(path, 2, "wf:a", 2)


def test_a_bad_stream_mapping_is_reported_by_verify_and_never_mixes_streams(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    with open_ledger(f"sqlite:///{path}") as ledger:
        ledger.append(
            [PlanRevised(workflow_id="a"), PlanRevised(workflow_id="b"), PlanRevised(workflow_id="a")]
        )
        assert ledger.verify().ok
        with sqlite3.connect(path) as conn:
            # Outside the hash chain: point b's name at a's number (and a's elsewhere).
            conn.execute("UPDATE ledger_streams SET no = no + 100 WHERE name = 'wf:a'")
            conn.execute(
                "UPDATE ledger_streams SET no = (SELECT no - 100 FROM ledger_streams WHERE name = 'wf:a') "
                "WHERE name = 'wf:b'"
            )
        report = ledger.verify()
        assert not report.ok
        assert [(p.kind, p.offset) for p in report.problems] == [
            ("layout_mismatch", 1),
            ("layout_mismatch", 2),
            ("layout_mismatch", 3),
        ]
        # Reads match the name too: b's read never returns a's rows, nor does its version look-up.
        assert [r.offset for r in ledger.read(workflow_id="b")] == []
        assert [r[0] for r in ledger.backend.read_stream("wf:b")] == []
        assert ledger.backend.stream_version("wf:b") == 0
    with open_ledger(f"sqlite:///{path}") as cold, cold.backend.write() as tx:  # no cached versions
        assert tx.stream_versions(["wf:a", "wf:b"]) == {}


def test_the_first_problems_by_offset_are_kept_whichever_check_found_them(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    with open_ledger(f"sqlite:///{path}") as ledger:
        ledger.append([PlanRevised(workflow_id="a", reason=str(i)) for i in range(5)])
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE ledger_events SET state = CAST('{}' AS BLOB) WHERE notification_id >= 3")
            conn.execute("UPDATE ledger_events SET stream_no = 99 WHERE notification_id = 1")
        report = verify_module.verify(ledger.backend, max_problems=2)
    assert not report.ok
    assert [(p.kind, p.offset) for p in report.problems] == [("layout_mismatch", 1), ("edited", 3)]


def test_a_converted_file_that_lost_its_trigger_gets_it_back_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    shutil.copy(FIXTURE, path)
    open_ledger(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TRIGGER ledger_events_needs_stream_no")
    open_ledger(f"sqlite:///{path}").close()
    with pytest.raises(sqlite3.IntegrityError, match="upgrade every rledger"):
        _old_writer_insert(path, 17, "wf:wf-1", 6)


def test_streams_keep_distinct_numbers_when_a_truncated_tail_lets_offsets_repeat(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    with open_ledger(f"sqlite:///{path}") as ledger:
        ledger.append(
            [PlanRevised(workflow_id="a"), PlanRevised(workflow_id="a"), PlanRevised(workflow_id="b")]
        )
        with sqlite3.connect(path) as conn:
            conn.execute("DELETE FROM ledger_events WHERE notification_id = 3")  # b's only row
    with open_ledger(f"sqlite:///{path}") as ledger:
        assert [p.kind for p in ledger.verify().problems] == ["truncated"]
        ledger.append(PlanRevised(workflow_id="c"))  # offset 3 again, a new stream
        ledger.append(PlanRevised(workflow_id="a"))
        assert [(r.offset, r.version) for r in ledger.read(workflow_id="a")] == [(1, 1), (2, 2), (4, 3)]
        assert [(r.offset, r.version) for r in ledger.read(workflow_id="c")] == [(3, 1)]
        assert [r.offset for r in ledger.read(workflow_id="b")] == []
        with sqlite3.connect(path) as conn:
            numbers = [n for (n,) in conn.execute("SELECT no FROM ledger_streams ORDER BY no")]
        assert numbers == [1, 2, 3]


def test_a_cold_process_finds_many_stored_streams_and_a_small_cache_overflows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'l.db'}"
    streams = [f"wf-{i}" for i in range(1200)]  # more than one 900-name look-up chunk
    with open_ledger(url) as writer:
        writer.append([PlanRevised(workflow_id=w) for w in streams])
    monkeypatch.setattr(sqlite_recorder.SQLiteLedgerRecorder, "MAX_CACHED_STREAM_NOS", 50)
    with open_ledger(url) as cold:
        for start in range(0, 1200, 300):
            cold.append([PlanRevised(workflow_id=w) for w in streams[start : start + 300]])
        cold.append([PlanRevised(workflow_id=w) for w in streams[:10]])
        assert len(cold.backend._stream_nos) <= 50  # type: ignore[attr-defined]
        for w in ("wf-0", "wf-899", "wf-900", "wf-1199"):
            expected = 3 if w == "wf-0" else 2
            assert [r.version for r in cold.read(workflow_id=w)] == list(range(1, expected + 1))
        assert cold.verify().ok


def _downgrade(path: Path) -> None:
    """Rewrite a file to the layout before numbered streams (as the fixture's version made)."""
    with sqlite3.connect(path) as conn:
        conn.execute("DROP INDEX ledger_events_stream_no")
        conn.execute("DROP TABLE ledger_streams")
        conn.execute("ALTER TABLE ledger_events DROP COLUMN stream_no")
        conn.execute(
            "CREATE UNIQUE INDEX ledger_events_stream ON ledger_events (originator_id, originator_version)"
        )


def test_a_file_with_pruned_streams_converts_and_its_streams_carry_on(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    with open_ledger(f"sqlite:///{path}", clock=lambda: now[0]) as ledger:
        ledger.append(
            [
                PlanRevised(workflow_id="gone"),
                PlanRevised(workflow_id="gone"),
                PlanRevised(workflow_id="kept"),
            ]
        )
        now[0] += timedelta(days=1)
        ledger.append([PlanRevised(workflow_id="kept")])
        assert ledger.prune(now[0], force=True).events == 3
    _downgrade(path)
    assert "ledger_events_stream" in _indexes(path)
    with open_ledger(f"sqlite:///{path}", clock=lambda: now[0]) as ledger:
        ledger.append([PlanRevised(workflow_id="gone"), PlanRevised(workflow_id="kept")])
        assert [(r.offset, r.version) for r in ledger.read(workflow_id="gone")] == [(5, 3)]
        assert [(r.offset, r.version) for r in ledger.read(workflow_id="kept")] == [(4, 2), (6, 3)]
        assert ledger.verify().ok
