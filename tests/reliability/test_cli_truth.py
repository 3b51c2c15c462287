"""The CLI tells the truth in machine-readable form, and bad arguments are errors, not empty answers."""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

import cli
from ledger import CostIncurred, Ledger, PlanRevised, StepRecorded, open_ledger
from ledger.workload import generate
from projections import CircuitBreaker
from tests.conftest import ManualClock, sqlite_url


@pytest.fixture
def url(tmp_path: Path) -> str:
    target = sqlite_url(tmp_path / "cli.db")
    with open_ledger(target) as ledger:
        ledger.append(list(generate(600, seed=3, active_workflows=5)))
    return target


def rledger(url: str, *argv: str) -> int:
    return cli.main(["--db", url, *argv])


def status(url: str, *argv: str) -> int:
    """The exit status, whether argparse or the command refused the arguments."""
    try:
        return rledger(url, *argv)
    except SystemExit as exc:
        assert isinstance(exc.code, int)
        return exc.code


def test_report_json_carries_the_verdict_the_text_report_prints(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with open_ledger(url) as ledger:
        ledger.append([StepRecorded(agent="a", success=False) for _ in range(200)])
    assert rledger(url, "report") == 0
    text = capsys.readouterr().out
    assert rledger(url, "report", "--format", "json") == 0
    health = json.loads(capsys.readouterr().out)["health"]

    assert "Health: UNHEALTHY" in text
    assert health["healthy"] is False
    assert health["violations"]
    assert all(f"  - {v}" in text for v in health["violations"])
    assert health["insufficient_data"] == []


def test_report_json_lists_the_metrics_without_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = sqlite_url(tmp_path / "steps.db")
    with open_ledger(url) as ledger:
        ledger.append(StepRecorded(agent="a", success=True))

    assert rledger(url, "report", "--format", "json") == 0
    health = json.loads(capsys.readouterr().out)["health"]

    assert health == {
        "healthy": True,
        "violations": [],
        "insufficient_data": ["pc", "hir", "ma"],
        "slo_violations": [],
        "slo_insufficient_data": ["mtte", "rsr"],
    }


def test_monitor_strict_fails_while_a_rule_is_violated_even_when_the_alert_is_suppressed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = sqlite_url(tmp_path / "m.db")
    at = datetime.now(UTC) - timedelta(hours=1)
    with open_ledger(url) as ledger:
        ledger.append([StepRecorded(agent="a", success=i < 5, occurred_at=at) for i in range(10)])

    assert rledger(url, "monitor", "--once", "--strict") == 1
    assert "1 alert(s) delivered" in capsys.readouterr().out
    assert rledger(url, "monitor", "--once", "--strict") == 1  # within the cooldown: suppressed
    assert "0 alert(s) delivered, 1 suppressed" in capsys.readouterr().out


def test_monitor_strict_fails_on_a_ledger_with_no_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = sqlite_url(tmp_path / "empty.db")
    with open_ledger(url) as ledger:
        ledger.append(PlanRevised(reason="nothing measured yet"))

    assert rledger(url, "monitor", "--once") == 0
    assert rledger(url, "monitor", "--once", "--strict") == 1
    assert "nothing was measured" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["events", "--type", "Bogus"], "unknown event type 'Bogus'"),
        (["events", "--limit", "-1"], "--limit"),
        (["events", "--after", "-1"], "--after"),
        (["events", "--since", "2026-02-01", "--until", "2026-01-01"], "--since"),
        (["report", "--since", "2026-02-01", "--until", "2026-01-01"], "--since"),
    ],
)
def test_bad_arguments_are_usage_errors(
    url: str, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert status(url, *argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert message in err


@pytest.mark.parametrize("command", ["stats", "verify", "events", "report", "breakers"])
def test_a_reading_command_does_not_create_a_sqlite_ledger(
    tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "nope.db"

    assert rledger(sqlite_url(path), command) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not os.path.exists(path)


@pytest.mark.postgres
@pytest.mark.parametrize("command", ["stats", "report", "events"])
def test_a_reading_command_does_not_create_a_postgresql_ledger(
    pg_url: str, pg_schema: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import psycopg

    # A mistyped ?schema= must be an error, not a new empty ledger that reports "no data".
    assert rledger(pg_url, command) == 2
    err = capsys.readouterr().err
    assert f"schema '{pg_schema}' has no ledger tables" in err and "only append and demo create one" in err
    with psycopg.connect(pg_url.split("?", maxsplit=1)[0]) as conn:
        found = conn.execute(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = %s", [pg_schema]
        ).fetchone()
    assert found == (0,)

    (tmp_path / "in.jsonl").write_text('{"type": "PlanRevised", "reason": "r"}\n')
    assert rledger(pg_url, "append", str(tmp_path / "in.jsonl")) == 0  # a writing command creates it
    assert rledger(pg_url, command) == 0


def test_a_writing_command_still_creates_the_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "new.db"
    (tmp_path / "in.jsonl").write_text('{"type": "PlanRevised", "reason": "r"}\n')

    assert rledger(sqlite_url(path), "append", str(tmp_path / "in.jsonl")) == 0
    assert path.exists()


def test_breaker_states_in_json_are_state_names_with_due_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = sqlite_url(tmp_path / "b.db")
    clock = ManualClock(datetime(2024, 6, 1, tzinfo=UTC))
    with open_ledger(url, clock=clock) as ledger:
        breaker = CircuitBreaker("payments", ledger=ledger, clock=clock)
        for _ in range(5):
            breaker.record_failure()
        CircuitBreaker("search", ledger=ledger, clock=clock).record_success()

    assert rledger(url, "breakers", "--format", "json") == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["breaker"], r["state"], r["half_open_due"]) for r in rows] == [
        ("payments", "open", True),
        ("search", "closed", False),
    ]
    assert rledger(url, "breakers") == 0
    assert "half_open (due)" in capsys.readouterr().out  # people still read the due move


def test_amounts_are_rounded_for_people_and_exact_in_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = sqlite_url(tmp_path / "c.db")
    with open_ledger(url) as ledger:
        ledger.append(
            [
                CostIncurred(workflow_id=f"w{i}", agent="a", model="m", amount=Decimal("0.000000001"))
                for i in range(3)
            ]
        )

    assert rledger(url, "events", "--type", "CostIncurred") == 0
    # Rounded for people, but a non-zero amount is never shown as zero.
    assert "m 0.000000001 USD" in capsys.readouterr().out
    assert rledger(url, "report", "--format", "json") == 0
    costs = json.loads(capsys.readouterr().out)["costs"]
    assert Decimal(costs["total_cost"]) == Decimal("3E-9")  # a sum is exact
    # A quotient is kept to the ledger's precision, not to 28 digits.
    assert costs["cost_per_workflow"] == "0.000000001"


def _events_json(url: str, capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    assert rledger(url, "events", "--format", "json") == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def _without_envelope(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    return [
        {k: v for k, v in r.items() if k not in ("offset", "stream", "version", "recorded_at")} for r in rows
    ]


def test_events_json_appends_back_into_a_fresh_ledger(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _events_json(url, capsys)
    dump = tmp_path / "events.jsonl"
    dump.write_text("".join(json.dumps(r) + "\n" for r in source))
    target = sqlite_url(tmp_path / "copy.db")

    assert rledger(target, "append", str(dump)) == 0
    capsys.readouterr()

    copied = _events_json(target, capsys)
    assert [r["event_id"] for r in copied] == [r["event_id"] for r in source]
    assert _without_envelope(copied) == _without_envelope(source)


def test_export_appends_back_into_a_fresh_ledger(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _events_json(url, capsys)
    workflow = str(next(r["workflow_id"] for r in source if r["type"] == "WorkflowCompleted"))
    dump = tmp_path / "wf.jsonl"
    assert rledger(url, "export", workflow, "--out", str(dump)) == 0
    target = sqlite_url(tmp_path / "copy.db")

    assert rledger(target, "append", str(dump)) == 0
    capsys.readouterr()

    original = [r for r in source if r["workflow_id"] == workflow]
    assert len(original) > 2
    assert _without_envelope(_events_json(target, capsys)) == _without_envelope(original)


def test_append_rejects_an_envelope_stream_that_is_not_the_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = {"type": "PlanRevised", "workflow_id": "w1", "reason": "r", "offset": 7, "stream": "wf:other"}
    (tmp_path / "in.jsonl").write_text(json.dumps(line) + "\n")
    url = sqlite_url(tmp_path / "a.db")

    assert rledger(url, "append", str(tmp_path / "in.jsonl")) == 2
    assert "field 'stream'" in capsys.readouterr().err
    ledger: Ledger
    with open_ledger(url) as ledger:
        assert ledger.latest_offset() == 0


def test_verify_reports_a_row_stored_as_text_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "t.db"
    with open_ledger(sqlite_url(path)) as ledger:
        ledger.append([StepRecorded(workflow_id="w", agent="a", success=True) for _ in range(3)])
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(
            "UPDATE ledger_events SET state = replace(state, 'true', 'false') WHERE notification_id = 2"
        )
    conn.close()

    assert rledger(sqlite_url(path), "verify") == 1
    out, err = capsys.readouterr()
    assert "verify FAILED" in out
    assert "offset 2: edited" in out
    assert err == ""


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"rledger {version('reliability-ledger')}\n"
