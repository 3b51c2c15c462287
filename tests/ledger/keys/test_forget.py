"""Forgetting a subject: its fields read as erased, nothing else changes, the record names no one."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger import EVENT_TYPES, BatchRejectedError, SubjectForgotten, open_ledger
from ledger.keys import ERASED
from projections import CORE_PROJECTIONS
from projections.fold.runner import ProjectionRunner
from replay.history import History
from tests.conftest import POSTGRES, SQLITE, run_in_process, sqlite_url
from tests.ledger.keys.conftest import ALICE_SECRET, BOB_SECRET, PLAIN_SECRET, subject_events

pytestmark = pytest.mark.usefixtures("master_key")


@pytest.fixture(params=[SQLITE, POSTGRES])
def keyed_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A durable ledger that keeps subject keys."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "f.db")
    url: str = request.getfixturevalue("pg_url")
    return url


def test_forget_erases_the_subject_and_leaves_the_others_readable(keyed_url: str) -> None:
    with open_ledger(keyed_url) as ledger:
        ledger.append(subject_events())
        result = ledger.forget("alice", reason="erasure request #17", by="dpo")
        records = list(ledger.read())
    started, alice_call, bob_call, plain, record = records
    assert result.keys_destroyed == 1 and result.offset == record.offset == 5
    assert started.event.goal == ERASED and started.event.input == ERASED  # type: ignore[union-attr]
    assert started.erased == ("goal", "input") and alice_call.erased == ("arguments", "result")
    # The structure stays: tool, agent, duration, success.
    assert alice_call.event.tool == "crm_lookup" and alice_call.event.duration_ms == 12.5  # type: ignore[union-attr]
    assert bob_call.event.result == BOB_SECRET and bob_call.erased == ()  # type: ignore[union-attr]
    assert plain.event.result == PLAIN_SECRET  # type: ignore[union-attr]
    assert "erased" in alice_call.to_json_dict() and "erased" not in bob_call.to_json_dict()


def test_the_forget_record_says_who_when_and_why_and_names_no_one(keyed_url: str) -> None:
    with open_ledger(keyed_url) as ledger:
        ledger.append(subject_events())
        subject_ref = next(ledger.read(limit=1)).event.subject
        ledger.forget("alice", reason="erasure request #17", by="dpo")
        (record,) = ledger.read(types="SubjectForgotten")
    event = record.event
    assert isinstance(event, SubjectForgotten)
    assert (event.subject_ref, event.by, event.reason, event.keys_destroyed) == (
        subject_ref,
        "dpo",
        "erasure request #17",
        1,
    )
    assert record.stream == "privacy" and event.occurred_at is not None
    assert "alice" not in str(record.to_json_dict())


def test_verify_passes_before_and_after_forget(keyed_url: str) -> None:
    with open_ledger(keyed_url) as ledger:
        ledger.append(subject_events())
        assert ledger.verify().ok
        ledger.forget("alice", reason="r")
        report = ledger.verify()
    assert report.ok and report.events_checked == 5


def _digests(url: str) -> dict[str, str]:
    with open_ledger(url) as ledger, ProjectionRunner(ledger, CORE_PROJECTIONS) as runner:
        return runner.rebuild()


def test_projection_digests_are_the_same_after_forget(keyed_url: str) -> None:
    with open_ledger(keyed_url) as ledger:
        ledger.append(subject_events())
    before = _digests(keyed_url)
    with open_ledger(keyed_url) as ledger:
        # The record itself is an event no core projection folds; the baseline is the same
        # ledger with a record about someone who never had keys.
        ledger.forget("nobody", reason="baseline")
    baseline = _digests(keyed_url)
    with open_ledger(keyed_url) as ledger:
        ledger.forget("alice", reason="r")
    after = _digests(keyed_url)
    assert set(before) == {p.name for p in CORE_PROJECTIONS}
    assert after == baseline
    with open_ledger(keyed_url) as ledger:
        assert ledger.verify().ok


def test_a_trail_shows_the_structure_with_erased_content(keyed_url: str) -> None:
    with open_ledger(keyed_url) as ledger:
        ledger.append(subject_events())
        assert History.load(ledger, "wf-1").events[1].data["arguments"] == {"q": ALICE_SECRET}
        ledger.forget("alice", reason="r")
        history = History.load(ledger, "wf-1")
    started, alice_call, bob_call, _plain = (r.data for r in history.events)
    assert started["goal"] == ERASED and alice_call["result"] == ERASED
    assert alice_call["tool"] == "crm_lookup" and bob_call["result"] == BOB_SECRET
    assert history.events[1].event.arguments == {ERASED: True}


def _reads_erased(url: str) -> None:
    with open_ledger(url) as ledger:
        records = list(ledger.read())
    assert records[0].erased == ("goal", "input"), records[0]
    assert records[2].event.result == BOB_SECRET  # type: ignore[union-attr]


def test_another_process_sees_the_subject_erased(keyed_url: str) -> None:
    with open_ledger(keyed_url) as ledger:
        ledger.append(subject_events())
        ledger.forget("alice", reason="r")
    run_in_process(_reads_erased, keyed_url)


def test_a_subject_may_be_forgotten_by_its_pseudonym() -> None:
    with open_ledger("memory://") as ledger:
        ledger.append(subject_events())
        ref = next(ledger.read()).event.subject
        assert ref is not None and ref.startswith("sub:")
        result = ledger.forget(ref, reason="by the id a read shows")
        records = list(ledger.read())
    assert result.subject_ref == ref and result.keys_destroyed == 1
    assert records[0].erased == ("goal", "input") and records[2].erased == ()


def test_forgetting_twice_records_that_no_key_was_left() -> None:
    with open_ledger("memory://") as ledger:
        ledger.append(subject_events())
        assert ledger.forget("alice", reason="r").keys_destroyed == 1
        assert ledger.forget("alice", reason="again").keys_destroyed == 0


def test_a_bad_reason_destroys_nothing() -> None:
    with open_ledger("memory://") as ledger:
        ledger.append(subject_events())
        with pytest.raises(BatchRejectedError, match="reason"):
            ledger.forget("alice", reason="")
        assert next(ledger.read()).erased == ()


def test_the_forget_record_is_a_registered_event_type() -> None:
    assert EVENT_TYPES["SubjectForgotten"] is SubjectForgotten
    with pytest.raises(ValueError, match="subject_ref only"):
        SubjectForgotten(subject_ref="sub:" + "0" * 32, reason="r", subject="alice")


def test_the_evidence_collector_shows_sealed_content_opened_then_erased() -> None:
    from ledger import EvidenceCollected
    from projections.guards.evidence import EvidenceCollector

    with open_ledger("memory://") as ledger:
        ledger.append(
            EvidenceCollected(
                workflow_id="wf-1",
                evidence_type="database_read",
                source="crm",
                content={"address": ALICE_SECRET},
                confidence="verified",
                subject="alice",
            )
        )
        collector = EvidenceCollector(ledger=ledger)
        assert collector.get_evidence()[0].content == {"address": ALICE_SECRET}
        ledger.forget("alice", reason="r")
        (item,) = collector.get_verified_evidence()
    assert item.content == ERASED and item.source == "crm"


@pytest.mark.parametrize(
    ("subject", "message"), [("", "1 to 256"), ("x" * 257, "1 to 256"), ("\ud800", "lone surrogate")]
)
def test_a_subject_that_could_not_have_been_appended_is_refused(subject: str, message: str) -> None:
    with open_ledger("memory://") as ledger:
        with pytest.raises(BatchRejectedError, match=message):
            ledger.forget(subject, reason="r")
        assert ledger.latest_offset() == 0
