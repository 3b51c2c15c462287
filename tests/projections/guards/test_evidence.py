"""Evidence: graded by where it came from, recorded as events, inferences linked to their sources."""

from __future__ import annotations

import hashlib
import json
from uuid import uuid4

import pytest

from ledger import EvidenceCollected, Ledger
from projections import EvidenceCollector, EvidenceError
from tests.conftest import ManualClock


@pytest.fixture
def collector(ledger: Ledger, clock: ManualClock) -> EvidenceCollector:
    return EvidenceCollector(ledger=ledger, clock=clock, workflow_id="wf-1")


def test_each_source_gets_its_confidence_type_and_source(collector: EvidenceCollector) -> None:
    items = [
        collector.from_tool_result("search_api", {"hits": 3}),
        collector.from_database_read("users_table", [{"id": 1}]),
        collector.from_api_response("weather_api", {"temp": 21.5}),
        collector.from_user_input("refund order 42"),
        collector.from_agent_output("planner", "the customer is eligible"),
    ]

    assert [(e.confidence, e.type, e.source) for e in items] == [
        ("verified", "tool_result", "search_api"),
        ("verified", "database_read", "users_table"),
        ("verified", "api_response", "weather_api"),
        ("verified", "user_input", "user"),
        ("claimed", "agent_output", "planner"),
    ]
    assert items[4].agent == "planner"
    assert [e.content for e in collector.get_verified_evidence()] == [
        {"hits": 3},
        [{"id": 1}],
        {"temp": 21.5},
        "refund order 42",
    ]
    assert [e.source for e in collector.get_claimed_evidence()] == ["planner"]


def test_every_item_is_an_evidence_event_with_id_workflow_and_time(
    collector: EvidenceCollector, ledger: Ledger, clock: ManualClock
) -> None:
    item = collector.from_tool_result("search_api", {"hits": 3})

    (stored,) = [r.event for r in ledger.read(types="EvidenceCollected")]
    assert isinstance(stored, EvidenceCollected)
    assert (stored.event_id, stored.workflow_id, stored.occurred_at) == (item.id, "wf-1", clock.now)
    assert (stored.source, stored.evidence_type, stored.confidence) == (
        "search_api",
        "tool_result",
        "verified",
    )
    assert stored.content == {"hits": 3}
    assert item.timestamp == clock.now


def test_an_inference_needs_sources_the_ledger_knows(collector: EvidenceCollector, ledger: Ledger) -> None:
    with pytest.raises(EvidenceError, match="must name the evidence"):
        collector.infer("customer is eligible", based_on=[])
    with pytest.raises(EvidenceError, match="unknown evidence ids"):
        collector.infer("customer is eligible", based_on=[uuid4()])

    assert list(ledger.read()) == []


def test_an_inference_links_its_sources_and_provenance_follows_them(collector: EvidenceCollector) -> None:
    order = collector.from_database_read("orders", {"id": 42, "days_since_delivery": 3})
    policy = collector.from_tool_result("policy_lookup", {"refund_window_days": 30})
    eligible = collector.infer("within the refund window", based_on=[order, policy.id])
    decision = collector.infer("refund approved", based_on=[str(eligible.id)])

    assert eligible.confidence == "inferred"
    assert eligible.based_on == (order.id, policy.id)
    assert [e.id for e in collector.provenance(decision)] == [eligible.id, order.id, policy.id]
    assert [e.id for e in collector.get_inferred_evidence()] == [eligible.id, decision.id]
    assert collector.get(decision.id) == decision


def test_redacted_content_is_recorded_as_its_hash_only(collector: EvidenceCollector, ledger: Ledger) -> None:
    item = collector.from_user_input({"card": "4111 1111", "name": "Ada"}, redact=True)

    canonical = json.dumps({"card": "4111 1111", "name": "Ada"}, sort_keys=True, separators=(",", ":"))
    expected = "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    (stored,) = [r.event for r in ledger.read(types="EvidenceCollected")]
    assert isinstance(stored, EvidenceCollected)
    assert (stored.content, stored.content_hash) == (None, expected)
    assert item.redacted and item.content is None and item.content_hash == expected
    # The same content in another key order hashes the same: the hash can be checked later.
    again = collector.from_user_input({"name": "Ada", "card": "4111 1111"}, redact=True)
    assert again.content_hash == expected


def test_a_collector_can_redact_by_default(ledger: Ledger, clock: ManualClock) -> None:
    collector = EvidenceCollector(ledger=ledger, clock=clock, redact=True)

    assert collector.from_tool_result("crm", {"email": "a@b.c"}).redacted
    assert not collector.from_tool_result("crm", {"email": "a@b.c"}, redact=False).redacted


def test_reading_is_scoped_to_the_collectors_workflow(ledger: Ledger, clock: ManualClock) -> None:
    one = EvidenceCollector(ledger=ledger, clock=clock, workflow_id="wf-1")
    two = EvidenceCollector(ledger=ledger, clock=clock, workflow_id="wf-2")
    everything = EvidenceCollector(ledger=ledger, clock=clock)
    one.from_tool_result("search", "a")
    two.from_tool_result("search", "b")

    assert [e.content for e in one.get_verified_evidence()] == ["a"]
    assert [e.content for e in two.get_verified_evidence()] == ["b"]
    assert [e.content for e in everything.get_verified_evidence()] == ["a", "b"]
    assert [e.content for e in everything.get_verified_evidence(workflow_id="wf-2")] == ["b"]
    # An inference may rest on evidence another collector recorded on the same ledger.
    joined = everything.infer("both searches agree", based_on=[e.id for e in everything.get_evidence()])
    assert len(joined.based_on) == 2


def test_unknown_evidence_id_is_a_clear_error(collector: EvidenceCollector) -> None:
    missing = uuid4()
    with pytest.raises(EvidenceError, match=str(missing)):
        collector.get(missing)
