"""``rledger export WORKFLOW --otlp URL``: a recorded workflow as GenAI spans; a round trip gives it back."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path

import orjson

from ledger import StepRecorded, ToolCalled, WorkflowCompleted, WorkflowStarted, open_ledger
from projections import CostTracker
from reliability.service.otlp import encode_spans, ingest_otlp_sync, workflow_spans
from replay import RunContext, run_workflow
from replay.examples import TOOLS, TicketAgent
from tests.conftest import sqlite_url


def record_ticket(url: str) -> None:
    """A replayable ticket run, a priced model cost with cached tokens, and a failed step."""
    with open_ledger(url) as ledger:
        inputs = {"customer_id": "c-1", "question": "How do refunds work?"}
        ctx = RunContext(ledger, "ticket-42", tools=TOOLS, goal="answer the ticket", inputs=inputs)
        asyncio.run(run_workflow(TicketAgent(), ctx, inputs))
        CostTracker(ledger=ledger).record_llm_cost(
            "writer", 1200, 300, "claude-sonnet-4", "ticket-42", cached_tokens=800, cache_write_tokens=100
        )
        ledger.append(StepRecorded(workflow_id="ticket-42", agent="reviewer", success=False, error="timeout"))


def workflow_events(url: str, workflow: str) -> list[dict[str, object]]:
    with open_ledger(url, create=False) as ledger:
        return [r.event.model_dump(mode="json") for r in ledger.read(workflow_id=workflow)]


def rledger(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_a_round_trip_through_the_receiver_gives_the_same_events(
    tmp_path: Path, otlp_endpoint: str, otlp_db: str
) -> None:
    source = sqlite_url(tmp_path / "source.db")
    record_ticket(source)

    done = rledger("--db", source, "export", "ticket-42", "--otlp", otlp_endpoint)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"sent 13 span(s) of ticket-42 (14 event(s)) to {otlp_endpoint}")
    original = workflow_events(source, "ticket-42")
    assert workflow_events(otlp_db, "ticket-42") == original  # same ids, fields, times and order
    again = rledger("--db", source, "export", "ticket-42", "--otlp", otlp_endpoint)
    assert again.returncode == 0 and workflow_events(otlp_db, "ticket-42") == original


def test_the_genai_attributes_carry_the_events_and_rledger_events_only_the_rest(tmp_path: Path) -> None:
    source = sqlite_url(tmp_path / "source.db")
    record_ticket(source)
    with open_ledger(source, create=False) as ledger:
        events = [r.event for r in ledger.read(workflow_id="ticket-42")]

    spans = {s.name: s for s in workflow_spans("ticket-42", events)}

    tool = spans["execute_tool search"]
    assert tool.attributes["gen_ai.tool.name"] == "search"
    assert set(orjson.loads(tool.attributes["rledger.events"])["tool"]) == {"event_id", "call_index"}
    cost = spans["chat claude-sonnet-4"]
    assert (
        cost.attributes["gen_ai.usage.input_tokens"],
        cost.attributes["gen_ai.usage.cache_read.input_tokens"],
    ) == (
        1200,
        800,
    )
    # The amount the receiver prices is the tracker's: only the id and the spelling record differ.
    assert set(orjson.loads(cost.attributes["rledger.events"])["cost"]) == {"event_id", "usage_attributes"}
    failed = spans["invoke_agent reviewer"]
    assert (failed.status_code, failed.attributes["error.type"]) == (2, "timeout")


def test_a_workflow_without_start_or_completion_comes_back_without_them(tmp_path: Path) -> None:
    events = [
        ToolCalled(workflow_id="wf-open", tool="search", duration_ms=12.5),
        StepRecorded(workflow_id="wf-open", agent="a", success=True),
    ]
    with open_ledger("memory://") as ledger:
        answer = ingest_otlp_sync(
            ledger, encode_spans(workflow_spans("wf-open", events)), content_type="application/x-protobuf"
        )
        back = [r.event for r in ledger.read()]

    assert answer.events_written == 2
    assert back == events
    assert not any(isinstance(e, WorkflowStarted | WorkflowCompleted) for e in back)


def test_an_unreachable_endpoint_is_exit_1_with_the_reason(tmp_path: Path) -> None:
    source = sqlite_url(tmp_path / "source.db")
    record_ticket(source)
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    done = rledger("--db", source, "export", "ticket-42", "--otlp", f"http://127.0.0.1:{port}/v1/traces")

    assert done.returncode == 1
    assert f"error: OTLP export to http://127.0.0.1:{port}/v1/traces failed" in done.stderr


def test_an_unknown_workflow_is_exit_2(tmp_path: Path, otlp_endpoint: str, otlp_db: str) -> None:
    source = sqlite_url(tmp_path / "source.db")
    record_ticket(source)

    done = rledger("--db", source, "export", "nope", "--otlp", otlp_endpoint)

    assert done.returncode == 2 and "not found" in done.stderr
    assert workflow_events(otlp_db, "nope") == []
