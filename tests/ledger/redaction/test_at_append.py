"""Redaction at append: the stored bytes, the database files and the rows never hold a redacted value."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from ledger import (
    BatchRejectedError,
    ReadQuery,
    RedactionPolicyError,
    StepRecorded,
    ToolCalled,
    WorkflowStarted,
    count_redactions,
    open_ledger,
)
from ledger.codec import encode
from tests.conftest import POSTGRES, SQLITE, sqlite_url

SECRETS = ("hunter2", "bob@example.com", "4111 1111 1111 1111", "sk-abcdefghijklmnopqrstuvwxyz")
POLICY = {
    "detectors": ["email", "phone", "credit_card", "api_key", "ip"],
    "rules": [{"type": "ToolCalled", "path": "arguments.password", "action": "drop"}],
}


def secret_call(n: int = 0) -> ToolCalled:
    return ToolCalled(
        workflow_id="w",
        tool="pay",
        call_index=n,
        arguments={"password": "hunter2", "card": "4111 1111 1111 1111", "to": "bob@example.com"},
        result={"receipt": "sent to bob@example.com", "key": "sk-abcdefghijklmnopqrstuvwxyz"},
    )


def stored_text(kind: str, url: str, tmp_path: Path) -> bytes:
    """Everything the backend holds: the SQLite files (WAL included), or every row of the schema."""
    if kind == "sqlite":
        return b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("l.db"))
    schema = url.rsplit("schema=", 1)[1]
    out = []
    with psycopg.connect(url.split("?", maxsplit=1)[0], autocommit=True) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        ).fetchall()
        for (table,) in tables:
            query = sql.SQL("SELECT t::text FROM {}.{} t").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            out += [row[0].encode() for row in conn.execute(query)]
    assert out, "the scan saw no rows"
    return b"\n".join(out)


@pytest.mark.parametrize("kind", [SQLITE, POSTGRES])
def test_a_redacted_value_never_reaches_the_store(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = sqlite_url(tmp_path / "l.db") if kind == "sqlite" else request.getfixturevalue("pg_url")
    with open_ledger(url, redaction=POLICY) as ledger:
        ledger.append([secret_call(0), StepRecorded(workflow_id="w", agent="a", success=True)])
        (call, step) = [r.event for r in ledger.read()]
        assert ledger.verify().ok

    raw = stored_text(kind, url, tmp_path)
    for secret in SECRETS:
        assert secret.encode() not in raw, secret
    # The cleartext of the other event is there: the scan looks at what is stored.
    assert b"StepRecorded" in raw
    assert "password" not in call.arguments
    assert call.arguments["card"] == "[redacted:credit_card]"
    assert call.result == {"receipt": "sent to [redacted:email]", "key": "[redacted:api_key]"}
    assert {(r.path, r.by) for r in call.redactions} == {
        ("arguments.password", "rule[0]"),
        ("arguments.card", "credit_card"),
        ("arguments.to", "email"),
        ("result.receipt", "email"),
        ("result.key", "api_key"),
    }
    assert step.redactions == ()


def test_an_event_nothing_touches_is_stored_byte_for_byte_as_without_a_policy() -> None:
    step = StepRecorded(workflow_id="w", agent="a", success=True)
    with open_ledger("memory://", redaction=POLICY) as ledger:
        ledger.append(step)
        (row,) = list(ledger.read_rows(ReadQuery()))

    assert bytes(row.state) == encode(step)
    assert b"redactions" not in encode(step)


def test_a_retried_redacted_append_is_a_duplicate() -> None:
    call = secret_call()
    with open_ledger("memory://", redaction=POLICY) as ledger:
        first = ledger.append(call)
        again = ledger.append(call)

        assert (first.written, again.duplicates, again.offsets) == (1, 1, first.offsets)
        assert ledger.redaction is not None
        assert ledger.redaction.counts()["events"] == 2  # counted per accepted append


def test_a_batch_rejected_after_redaction_writes_nothing() -> None:
    big = ToolCalled(tool="t", arguments={f"k{i}": "a@b.co" for i in range(60)})  # each mask is longer
    with open_ledger("memory://", redaction=POLICY) as ledger:
        ledger.max_event_bytes = len(encode(big)) + 10
        with pytest.raises(BatchRejectedError, match="redacted event is"):
            ledger.append([StepRecorded(agent="a", success=True), big])
        assert ledger.latest_offset() == 0


def test_async_appends_are_redacted_and_counted() -> None:
    async def run() -> list[ToolCalled]:
        with open_ledger("memory://", redaction=POLICY) as ledger:
            await asyncio.gather(*(ledger.append_async(secret_call(n)) for n in range(5)))
            assert ledger.redaction is not None
            counts = ledger.redaction.counts()
            assert counts["events"] == 5 and counts["by_rule"] == {"rule[0]": 5}
            assert counts["by_detector"] == {"api_key": 5, "credit_card": 5, "email": 10}
            return [r.event for r in ledger.read()]  # type: ignore[misc]

    for event in asyncio.run(run()):
        assert "hunter2" not in event.model_dump_json()


def test_stored_counts_match_what_the_process_counted() -> None:
    with open_ledger("memory://", redaction=POLICY) as ledger:
        ledger.append([secret_call(n) for n in range(3)] + [WorkflowStarted(workflow_id="w")])
        stored = count_redactions(row[3] for row in ledger.scan())
        assert ledger.redaction is not None
        assert stored == ledger.redaction.counts()
        assert stored["by_action"] == {"drop": 3, "mask": 12}


def test_a_bad_policy_opens_nothing(tmp_path: Path) -> None:
    path = tmp_path / "never.db"
    with pytest.raises(RedactionPolicyError):
        open_ledger(sqlite_url(path), redaction={"detectors": ["nope"]})
    assert not path.exists()
