"""Export a range with its chain values, check it on its own, import it into another ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from ledger import (
    ExportRange,
    ReadQuery,
    Redactor,
    StepRecorded,
    ToolCalled,
    WorkflowStarted,
    check_export,
    export_records,
    import_records,
    open_ledger,
    read_export,
    write_export,
)
from ledger.export import ExportFormatError
from tests.conftest import POSTGRES, SQLITE, sqlite_url

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def events(n: int = 30) -> list[object]:
    out: list[object] = []
    for i in range(n):
        wf = f"w{i % 3}"
        at = T0 + timedelta(minutes=i)
        out.append(
            ToolCalled(workflow_id=wf, agent="a" if i % 2 else "b", tool="t", call_index=i, occurred_at=at)
            if i % 2
            else StepRecorded(workflow_id=wf, agent="b", success=True, occurred_at=at)
        )
    return out


def url_for(kind: str, request: pytest.FixtureRequest, tmp_path: Path, name: str) -> str:
    if kind == "sqlite":
        return sqlite_url(tmp_path / f"{name}.db")
    pg: str = request.getfixturevalue("pg_url")
    return pg.replace("schema=", f"schema={name}_")


@pytest.mark.parametrize("kind", [SQLITE, POSTGRES])
@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_an_export_round_trips_into_another_ledger_idempotently(
    kind: str, fmt: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    source_url, target_url = (url_for(kind, request, tmp_path, n) for n in ("source", "target"))
    out = tmp_path / f"range.{fmt}"
    try:
        with open_ledger(source_url) as source:
            source.append(events())
            written = write_export(export_records(source, ExportRange(after=5, before_offset=26)), out, fmt)
            originals = [r.event for r in source.read(after=5, limit=20)]
        with open_ledger(target_url) as target:
            first = import_records(target, read_export(out))
            again = import_records(target, read_export(out))
            copied = [r.event for r in target.read()]
            assert target.verify().ok
    finally:
        if kind == "postgres":
            drop_schema(source_url)
            drop_schema(target_url)

    report = check_export(read_export(out))
    assert written == 20 and report.ok
    assert (report.records, report.verified, report.links, report.gaps) == (20, 20, 19, 0)
    assert (report.first_offset, report.last_offset) == (6, 25)
    assert (first.written, first.duplicates) == (20, 0)
    assert (again.written, again.duplicates) == (0, 20)  # same event ids: duplicates, not rewritten
    assert copied == originals


def drop_schema(url: str) -> None:
    import psycopg
    from psycopg import sql

    schema = url.rsplit("schema=", 1)[1]
    with psycopg.connect(url.split("?", maxsplit=1)[0], autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def exported(tmp_path: Path, where: ExportRange, fmt: str = "jsonl") -> list[dict[str, object]]:
    with open_ledger(sqlite_url(tmp_path / "f.db")) as ledger:
        if ledger.latest_offset() == 0:
            ledger.append(events())
        write_export(export_records(ledger, where), tmp_path / "f.jsonl", fmt)
    return [orjson.loads(line) for line in (tmp_path / "f.jsonl").read_bytes().splitlines()]


def test_filters_choose_the_records_and_a_filtered_export_still_checks(tmp_path: Path) -> None:
    by_type = exported(tmp_path, ExportRange(types=("ToolCalled",)))
    assert {r["type"] for r in by_type} == {"ToolCalled"} and len(by_type) == 15
    report = check_export(read_export(tmp_path / "f.jsonl"))
    assert report.ok and report.verified == 15 and report.gaps == 14

    in_window = exported(
        tmp_path, ExportRange(since=T0 + timedelta(minutes=10), until=T0 + timedelta(minutes=13))
    )
    assert [r["offset"] for r in in_window] == [11, 12, 13]

    workflow = exported(tmp_path, ExportRange(workflow="w1", agent="a"))
    assert {(r["workflow_id"], r["agent"]) for r in workflow} == {("w1", "a")} and len(workflow) == 5


def test_a_record_carries_the_stored_payload_and_chain_values(tmp_path: Path) -> None:
    records = exported(tmp_path, ExportRange(after=1, before_offset=3))

    assert [r["offset"] for r in records] == [2]
    (record,) = records
    with open_ledger(sqlite_url(tmp_path / "f.db")) as ledger:
        rows = list(ledger.read_rows(ReadQuery(through=2)))
    assert record["prev_chain"] == bytes(rows[0].chain).hex()
    assert record["chain"] == bytes(rows[1].chain).hex()
    assert str(record["payload"]).encode() == bytes(rows[1].state)


@pytest.mark.parametrize(
    ("field", "change", "kind"),
    [
        ("payload", lambda p: p.replace('"call_index":5', '"call_index":6'), "edited"),
        ("chain", lambda c: "0" * 64, "edited"),
        ("type", lambda t: "StepRecorded", "column"),
    ],
)
def test_check_finds_a_tampered_line(tmp_path: Path, field: str, change: object, kind: str) -> None:
    exported(tmp_path, ExportRange())
    path = tmp_path / "f.jsonl"
    lines = path.read_bytes().splitlines()
    record = orjson.loads(lines[5])  # offset 6, a ToolCalled (call_index 5)
    record[field] = change(record[field])  # type: ignore[operator]
    lines[5] = orjson.dumps(record)
    path.write_bytes(b"\n".join(lines) + b"\n")

    report = check_export(read_export(path))

    assert not report.ok
    assert (report.problems[0].where, report.problems[0].offset, report.problems[0].kind) == (
        "line 6",
        6,
        kind,
    )


def test_check_finds_a_removed_line_inside_a_run(tmp_path: Path) -> None:
    exported(tmp_path, ExportRange())
    path = tmp_path / "f.jsonl"
    lines = path.read_bytes().splitlines()
    record = orjson.loads(lines[6])
    record["offset"] = 6  # renumbered over the removed record: its link gives it away
    path.write_bytes(b"\n".join([*lines[:5], orjson.dumps(record), *lines[7:]]) + b"\n")

    report = check_export(read_export(path))

    assert [p.kind for p in report.problems][:1] in (["link"], ["edited"])
    assert not report.ok


def test_a_malformed_line_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"offset": 1}\n')
    with pytest.raises(ExportFormatError, match="line 1: missing field"):
        list(read_export(path))


def test_an_export_with_a_policy_redacts_and_marks_the_records(tmp_path: Path) -> None:
    with open_ledger(sqlite_url(tmp_path / "p.db")) as ledger:
        ledger.append([WorkflowStarted(workflow_id="w", input={"mail": "bob@example.com"}), *events(3)])
        redactor = Redactor({"detectors": ["email"]})
        write_export(export_records(ledger, ExportRange(), redaction=redactor), tmp_path / "p.jsonl", "jsonl")

    text = (tmp_path / "p.jsonl").read_bytes()
    report = check_export(read_export(tmp_path / "p.jsonl"))
    assert b"bob@example.com" not in text
    assert report.ok and report.unverifiable == 1 and report.verified == 3 and report.links == 3


def test_parquet_without_pyarrow_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pyarrow", None)  # an import of it now fails
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with open_ledger("memory://") as ledger:
        ledger.append(events(2))
        with pytest.raises(ValueError, match=r"pip install 'reliability-ledger\[parquet\]'"):
            write_export(export_records(ledger, ExportRange()), tmp_path / "x.parquet", "parquet")

    assert not (tmp_path / "x.parquet").exists() and not (tmp_path / "x.parquet.partial").exists()
