"""Bad input is refused at the door: a specific error naming where and which field, nothing written.

Validation happens before any backend is touched, so the in-memory ledger stands for all of
them here (the contract suite checks on every backend that a rejected batch writes nothing).
Bad ledger URLs get the ledger's own errors, never a driver traceback.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal
from uuid import uuid4

import orjson
import psycopg
import pytest
from psycopg import sql
from pydantic import ValidationError

from ledger import (
    BackendUnavailableError,
    BatchRejectedError,
    Ledger,
    LedgerError,
    LedgerEvent,
    PlanRevised,
    Problem,
    StepRecorded,
    UnsupportedURLError,
    open_ledger,
    validate_batch,
    validate_lines,
)
from ledger.backends.memory import MemoryLedgerRecorder
from tests.conftest import sqlite_url, with_schema

GOOD: dict[str, Any] = {"type": "StepRecorded", "workflow_id": "w", "agent": "a", "success": True}


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    with open_ledger("memory://") as opened:
        opened.append(PlanRevised())
        yield opened


def rejected(ledger: Ledger, batch: list[Any]) -> list[Problem]:
    """Append ``batch``, expecting a rejection that writes nothing; return its problems."""
    before = ledger.latest_offset()
    with pytest.raises(BatchRejectedError) as caught:
        ledger.append(batch)
    assert ledger.latest_offset() == before
    assert caught.value.total == len(batch)
    return caught.value.problems


CASES = [
    pytest.param(
        {"type": "StepTaken", "agent": "a"}, "type", "unknown event type 'StepTaken'", id="unknown-type"
    ),
    pytest.param({"agent": "a", "success": True}, "type", "missing 'type'", id="missing-type"),
    pytest.param(
        {"type": "StepRecorded", "agent": "a"}, "success", "required field is missing", id="missing-field"
    ),
    pytest.param({**GOOD, "success": "maybe"}, "success", "valid boolean", id="wrong-type-bool"),
    pytest.param(
        {"type": "ToolCalled", "tool": "t", "duration_ms": "fast"},
        "duration_ms",
        "valid number",
        id="wrong-type-number",
    ),
    pytest.param(
        {"type": "ToolCalled", "tool": "t", "arguments": [1]}, "arguments", "object", id="wrong-type-dict"
    ),
    pytest.param(
        {"type": "CostIncurred", "amount": "1", "prompt_tokens": -3},
        "prompt_tokens",
        "greater than or equal to 0",
        id="negative-count",
    ),
    pytest.param(
        {"type": "CostIncurred", "amount": "1", "currency": "usd"}, "currency", "pattern", id="bad-currency"
    ),
    pytest.param(
        {**GOOD, "occurred_at": "yesterday-ish"}, "occurred_at", "datetime", id="unparseable-timestamp"
    ),
    pytest.param({**GOOD, "colour": "blue"}, "colour", "unknown field", id="extra-field"),
    pytest.param({**GOOD, "agent": ""}, "agent", "at least 1 character", id="empty-name"),
    pytest.param({**GOOD, "event_id": "not-a-uuid"}, "event_id", "UUID", id="bad-event-id"),
    pytest.param(
        {
            "type": "EvidenceCollected",
            "evidence_type": "doc",
            "source": "s",
            "confidence": "claimed",
            "based_on": ["nope"],
        },
        "based_on.0",
        "UUID",
        id="bad-based-on-item",
    ),
    pytest.param(
        {"type": "EvidenceCollected", "evidence_type": "doc", "source": "s", "confidence": "sure"},
        "confidence",
        "'verified', 'claimed' or 'inferred'",
        id="unknown-confidence",
    ),
]


@pytest.mark.parametrize(("bad", "field", "reason"), CASES)
def test_a_bad_event_is_named_by_index_and_field(
    ledger: Ledger, bad: dict[str, Any], field: str, reason: str
) -> None:
    problems = rejected(ledger, [GOOD, GOOD, bad])

    assert [(p.index, p.line, p.field) for p in problems] == [(2, None, field)]
    assert reason in problems[0].reason
    assert str(problems[0]).startswith(f"event 2, field '{field}': ")


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+05:30", "9999-12-31T23:59:59-05:00"])
def test_a_timestamp_that_cannot_be_held_in_utc_is_named_by_field(ledger: Ledger, moment: str) -> None:
    # Valid ISO 8601, but converting it to UTC leaves the years 1-9999 that datetime can hold.
    problems = rejected(ledger, [GOOD, {**GOOD, "occurred_at": moment}])

    assert [(p.index, p.field) for p in problems] == [(1, "occurred_at")]
    _, line_problems, _ = validate_lines([f'{{"type": "PlanRevised", "occurred_at": "{moment}"}}'])
    assert [(p.line, p.field) for p in line_problems] == [(1, "occurred_at")]


@pytest.mark.parametrize(
    ("bad", "names"),
    [
        pytest.param(
            {"type": "EvidenceCollected", "evidence_type": "doc", "source": "s", "confidence": "inferred"},
            "based_on",
            id="inferred-evidence-without-sources",
        ),
        pytest.param({"type": "CostIncurred", "model": "m"}, "amount", id="priced-cost-without-amount"),
        pytest.param(
            {"type": "CostIncurred", "status": "unpriced", "amount": "0.1"},
            "amount",
            id="unpriced-cost-with-amount",
        ),
        pytest.param({"type": "CostIncurred", "amount": "-1"}, "amount", id="negative-amount"),
    ],
)
def test_a_rule_across_fields_names_the_field_in_its_reason(
    ledger: Ledger, bad: dict[str, Any], names: str
) -> None:
    problems = rejected(ledger, [bad])

    assert len(problems) == 1
    assert problems[0].index == 0
    assert names in str(problems[0])


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        pytest.param(5, "expected an event, a mapping or JSON, got int", id="not-an-event"),
        pytest.param("[1, 2]", "must be a JSON object", id="json-array"),
        pytest.param('{"type": "PlanRevised",', "malformed JSON", id="malformed-json"),
    ],
)
def test_something_that_is_not_an_event_is_named_by_index(ledger: Ledger, bad: object, reason: str) -> None:
    problems = rejected(ledger, [GOOD, bad])

    assert [(p.index, p.field) for p in problems] == [(1, None)]
    assert reason in problems[0].reason


def test_an_event_over_the_size_limit_is_refused() -> None:
    with Ledger(MemoryLedgerRecorder(), max_event_bytes=400) as small:
        problems = rejected(small, [PlanRevised(), PlanRevised(reason="x" * 400)])

    assert [(p.index, p.field) for p in problems] == [(1, None)]
    assert "over the limit of 400 bytes" in problems[0].reason


def test_a_payload_over_one_mebibyte_is_refused_by_default(ledger: Ledger) -> None:
    huge = "x" * (1 << 20)

    problems = rejected(ledger, [{"type": "PlanRevised", "reason": huge}, PlanRevised(reason=huge)])

    assert [p.index for p in problems] == [0, 1]
    assert all("over the limit of 1048576 bytes" in p.reason for p in problems)


def test_a_rejected_batch_lists_every_problem(ledger: Ledger) -> None:
    batch = [
        {"type": "Nope"},
        GOOD,
        {"type": "StepRecorded", "workflow_id": "w"},  # agent and success both missing
        GOOD,
        {**GOOD, "occurred_at": "never"},
    ]

    with pytest.raises(BatchRejectedError) as caught:
        ledger.append(batch)

    error = caught.value
    assert [(p.index, p.field) for p in error.problems] == [
        (0, "type"),
        (2, "agent"),
        (2, "success"),
        (4, "occurred_at"),
    ]
    assert error.total == 5
    message = str(error)
    assert "rejected 5 event(s): 4 problem(s), nothing written" in message
    assert all(str(p) in message for p in error.problems)
    assert ledger.latest_offset() == 1


def test_a_long_list_of_problems_is_summarised_but_kept_whole(ledger: Ledger) -> None:
    problems = rejected(ledger, [{"type": "Nope"}] * 25)

    assert [p.index for p in problems] == list(range(25))
    with pytest.raises(BatchRejectedError, match="and 5 more"):
        ledger.append([{"type": "Nope"}] * 25)


def test_validate_batch_returns_events_or_raises_without_a_ledger() -> None:
    events = validate_batch([GOOD, PlanRevised()])
    assert [type(e).__name__ for e in events] == ["StepRecorded", "PlanRevised"]

    with pytest.raises(BatchRejectedError) as caught:
        validate_batch([GOOD, {"type": "Nope"}])
    assert [(p.index, p.field) for p in caught.value.problems] == [(1, "type")]


def test_json_lines_problems_carry_line_numbers() -> None:
    lines = [
        '{"type": "PlanRevised"}\n',
        "{not json\n",
        "\n",
        '{"type": "StepRecorded", "agent": "a"}\n',
        "[1]\n",
        '{"type": "HumanIntervened", "reason": "r"}\n',
    ]

    events, problems, read = validate_lines(lines)

    assert [type(e).__name__ for e in events] == ["PlanRevised", "HumanIntervened"]
    assert read == 6
    assert [(p.line, p.index, p.field) for p in problems] == [
        (2, None, None),
        (4, None, "success"),
        (5, None, None),
    ]
    assert problems[0].reason.startswith("malformed JSON")
    assert str(problems[1]) == "line 4, field 'success': required field is missing"
    assert "must be a JSON object" in problems[2].reason


def test_json_lines_over_the_size_limit_carry_line_numbers() -> None:
    lines = ['{"type": "PlanRevised"}', '{"type": "PlanRevised", "reason": "' + "y" * 300 + '"}']

    events, problems, _ = validate_lines(lines, max_bytes=300)

    assert len(events) == 1
    assert [(p.line, p.field) for p in problems] == [(2, None)]
    assert "over the limit of 300 bytes" in problems[0].reason


def test_an_event_model_is_checked_for_size_too(ledger: Ledger) -> None:
    # Models skip re-validation; the size limit must still apply to them.
    event = StepRecorded(agent="a", success=True, error="e" * (1 << 20))

    problems = rejected(ledger, [event])

    assert [p.index for p in problems] == [0]


class UnregisteredEvent(LedgerEvent):
    """A user's own event class: a LedgerEvent, but not one of the ledger's event types."""

    type: Literal["UnregisteredEvent"] = "UnregisteredEvent"


class PlanRevisedWithNotes(PlanRevised):
    """A subclass of a real event type that adds a field the stored contract does not have."""

    notes: str = "extra"


@pytest.mark.parametrize(
    "item",
    [
        pytest.param(UnregisteredEvent(), id="unregistered-subclass"),
        pytest.param(PlanRevisedWithNotes(), id="subclass-with-extra-field"),
    ],
)
def test_an_event_object_the_ledger_could_not_read_back_is_refused(ledger: Ledger, item: LedgerEvent) -> None:
    # Once stored, an event that does not decode would make every later read of the ledger fail.
    problems = rejected(ledger, [PlanRevised(), item])

    assert [p.index for p in problems] == [1]
    assert [type(r.event).__name__ for r in ledger.read()] == ["PlanRevised"]


def test_a_bad_async_batch_is_refused_and_writes_nothing(ledger: Ledger) -> None:
    with pytest.raises(BatchRejectedError):
        asyncio.run(ledger.append_async([GOOD, {"type": "Nope"}]))

    assert ledger.latest_offset() == 1


# -- ledger URLs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["mysql://u@h/db", "mongodb://127.0.0.1:27017", "", "memory", "sqlite://", "sqlite:///"]
)
def test_an_unsupported_url_is_refused(url: str) -> None:
    with pytest.raises(UnsupportedURLError) as caught:
        open_ledger(url)

    assert caught.value.url == url
    assert "memory://, sqlite:///path/to/file.db or postgresql://" in str(caught.value)


def test_postgresql_on_a_closed_port_is_unavailable_with_a_clear_message() -> None:
    url = "postgresql://postgres:s3cret@127.0.0.1:1/test"

    with pytest.raises(BackendUnavailableError) as caught:
        open_ledger(url)

    message = str(caught.value)
    assert message.startswith("cannot open ledger at postgresql://postgres:***@127.0.0.1:1/test: ")
    assert "s3cret" not in message
    assert "\n" not in message
    assert "port 1" in caught.value.reason


def test_a_sqlite_file_in_a_missing_directory_is_unavailable(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir"

    with pytest.raises(BackendUnavailableError) as caught:
        open_ledger(sqlite_url(missing / "l.db"))

    assert str(missing) in str(caught.value)
    assert not missing.exists()


def test_a_file_that_is_not_a_sqlite_database_is_unavailable(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database " * 100)

    with pytest.raises(BackendUnavailableError, match="not a database"):
        open_ledger(sqlite_url(junk))


@pytest.mark.postgres
def test_a_missing_postgresql_database_is_unavailable(pg_server_url: str) -> None:
    url = pg_server_url.rsplit("/", 1)[0] + f"/no_such_db_{secrets.token_hex(4)}"

    with pytest.raises(BackendUnavailableError, match="does not exist"):
        open_ledger(url)


@pytest.mark.postgres
@pytest.mark.parametrize("suffix", ["-1", "X"], ids=["hyphen", "upper-case"])
def test_a_schema_name_that_needs_quoting_works(pg_server_url: str, suffix: str) -> None:
    # Every statement quotes the schema (psycopg's Identifier) and no composite type is looked
    # up in it (see the backend's _Datastore), so such a name is used exactly as written.
    schema = f"t_{secrets.token_hex(6)}{suffix}"
    try:
        with open_ledger(with_schema(pg_server_url, schema)) as ledger:
            ledger.append(PlanRevised(event_id=uuid4()))
            outcome = (len(list(ledger.read())), ledger.verify().ok, ledger.stats()["events"])
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            found = conn.execute(
                "SELECT nspname FROM pg_namespace WHERE lower(nspname) = lower(%s)", [schema]
            ).fetchall()
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            for name in {schema, schema.lower()}:
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))

    assert outcome == (1, True, 1)
    assert found == [(schema,)]


def test_every_error_is_a_ledger_error() -> None:
    for error in (BackendUnavailableError, BatchRejectedError, UnsupportedURLError):
        assert issubclass(error, LedgerError)


def test_an_event_cannot_be_copied_or_constructed_past_validation() -> None:
    # The ledger stores event instances without re-checking them, so the two pydantic routes
    # around validation must validate: a bad value fails where it is made, naming the field.
    with pytest.raises(ValidationError, match="agent"):
        StepRecorded(agent="a", success=True).model_copy(update={"agent": ""})
    with pytest.raises(ValidationError, match="success"):
        StepRecorded.model_construct(agent="a")
    copied = StepRecorded(agent="a", success=True).model_copy(update={"success": False})
    assert copied.success is False and copied.agent == "a"


@pytest.mark.parametrize(
    ("field", "value"),
    [("success", "yes"), ("success", "off"), ("success", 0), ("tool_duration_ms", "120"), ("agent", 7)],
)
def test_a_value_of_the_wrong_type_is_refused_not_coerced(ledger: Ledger, field: str, value: Any) -> None:
    # Strict at the door, for a mapping and for a JSON line alike: "yes" is not a boolean.
    bad = {"type": "StepRecorded", "agent": "a", "success": True, field: value}
    for item in (bad, orjson.dumps(bad)):
        problems = rejected(ledger, [GOOD, item])
        assert [(p.index, p.field) for p in problems] == [(1, field)]


def test_times_ids_and_decimals_may_be_objects_or_their_json_strings(ledger: Ledger) -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    as_objects = {
        "type": "CostIncurred",
        "agent": "a",
        "model": "m",
        "amount": Decimal("0.5"),
        "occurred_at": when,
    }
    as_strings = {
        **as_objects,
        "amount": "0.5",
        "occurred_at": "2026-01-01T00:00:00Z",
        "event_id": str(uuid4()),
    }

    result = ledger.append([as_objects, as_strings])

    costs = [r.event for r in ledger.read(types="CostIncurred")]
    assert result.written == 2
    assert [(e.amount, e.occurred_at) for e in costs] == [(Decimal("0.5"), when)] * 2
