"""Fields added to stored event types: old rows load, encode as stored, and re-append idempotently."""

from __future__ import annotations

import orjson
import pytest

from ledger import EVENT_ADAPTER, CostIncurred, StepRecorded, ToolCalled, open_ledger

# Stored before ToolCalled.call_id, CostIncurred.provider / usage_attributes and
# StepRecorded.duration_ms existed (the step's bytes are what the code before duration_ms encoded).
OLD_ROWS = [
    b'{"event_id":"0190a1b2-0000-7000-8000-000000000001","occurred_at":"2026-01-01T00:00:00Z",'
    b'"workflow_id":"wf-1","agent":"a","type":"ToolCalled","tool":"search","arguments":{},"result":null,'
    b'"success":true,"duration_ms":12.0,"error":null,"call_index":0}',
    b'{"event_id":"0190a1b2-0000-7000-8000-000000000002","occurred_at":"2026-01-01T00:00:01Z",'
    b'"workflow_id":"wf-1","agent":"a","type":"CostIncurred","category":"llm","model":"gpt-4o","tool":null,'
    b'"prompt_tokens":10,"completion_tokens":5,"cached_tokens":0,"cache_write_tokens":0,"reasoning_tokens":0,'
    b'"amount":"0.0001","currency":"USD","price_version":null,"status":"priced"}',
    b'{"event_id":"0190a1b2-0000-7000-8000-000000000003","occurred_at":"2026-01-01T00:00:02Z",'
    b'"workflow_id":"wf-1","agent":"a","type":"StepRecorded","success":true,"required_compensation":false,'
    b'"required_human":false,"mode":null,"declared_mode":null,"tool_duration_ms":5.0,"error":null}',
]


@pytest.mark.parametrize("row", OLD_ROWS)
def test_an_old_row_loads_and_encodes_exactly_as_it_was_stored(row: bytes) -> None:
    event = EVENT_ADAPTER.validate_json(row)

    assert event.__pydantic_serializer__.to_json(event) == row


def test_an_old_event_appended_again_is_an_idempotent_retry() -> None:
    events = [EVENT_ADAPTER.validate_json(row) for row in OLD_ROWS]
    with open_ledger("memory://") as ledger:
        first = ledger.append(events)
        again = ledger.append([EVENT_ADAPTER.validate_python(orjson.loads(row)) for row in OLD_ROWS])

        assert (first.written, again.written, again.offsets) == (3, 0, first.offsets)
        assert ledger.verify().ok


def test_the_added_fields_are_stored_when_set() -> None:
    tool = ToolCalled(tool="search", call_id="call_1")
    cost = CostIncurred(status="unpriced", provider="openai", usage_attributes=("gen_ai.usage.input_tokens",))

    assert orjson.loads(tool.model_dump_json())["call_id"] == "call_1"
    stored = orjson.loads(cost.model_dump_json())
    assert (stored["provider"], stored["usage_attributes"]) == ("openai", ["gen_ai.usage.input_tokens"])
    assert EVENT_ADAPTER.validate_json(cost.model_dump_json()) == cost
    step = StepRecorded(agent="a", success=True, duration_ms=12.5)
    assert orjson.loads(step.model_dump_json())["duration_ms"] == 12.5
    assert EVENT_ADAPTER.validate_json(step.model_dump_json()) == step


def test_a_new_step_without_a_duration_encodes_exactly_as_an_old_one() -> None:
    old = EVENT_ADAPTER.validate_json(OLD_ROWS[2])
    new = StepRecorded(
        event_id=old.event_id,
        occurred_at=old.occurred_at,
        workflow_id="wf-1",
        agent="a",
        success=True,
        tool_duration_ms=5.0,
    )

    assert new.__pydantic_serializer__.to_json(new) == OLD_ROWS[2]
