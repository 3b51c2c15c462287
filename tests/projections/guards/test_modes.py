"""Mode enforcement: whole-word matching, fail-closed explore, approvals, and every verdict an event."""

from __future__ import annotations

import asyncio

import pytest

from ledger import Ledger, ModeChecked, ModeViolated
from projections import ActionKind, AgentMode, ModeEnforcer, ModeRules, ReliabilityMetrics
from projections.guards import split_words
from tests.conftest import ManualClock


@pytest.fixture
def enforcer(ledger: Ledger, clock: ManualClock) -> ModeEnforcer:
    return ModeEnforcer(ledger=ledger, clock=clock)


def verdicts(ledger: Ledger) -> list[tuple[str, str, str]]:
    """(type, action, violation type or approver) of every check, in order."""
    out = []
    for r in ledger.read(types=("ModeChecked", "ModeViolated")):
        e = r.event
        if isinstance(e, ModeChecked):
            out.append(("checked", e.action, e.approved_by or ""))
        else:
            assert isinstance(e, ModeViolated)
            out.append(("violated", e.attempted_action, e.violation_type))
    return out


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("get_runtime", ["get", "runtime"]),
        ("getRuntime", ["get", "runtime"]),
        ("database-write", ["database", "write"]),
        ("files.list", ["files", "list"]),
        ("run query", ["run", "query"]),
        ("HTTPRequestSend", ["http", "request", "send"]),
        ("DELETE_ALL", ["delete", "all"]),
    ],
)
def test_names_split_on_separators_and_camel_case(name: str, words: list[str]) -> None:
    assert split_words(name) == words


@pytest.mark.parametrize(
    ("action", "kind"),
    [
        ("get_runtime", ActionKind.READ),  # "run" is inside "runtime", not a word of its own
        ("fetchOutput", ActionKind.READ),  # "put" only inside "output"
        ("database_read", ActionKind.READ),
        ("database_write", ActionKind.WRITE),
        ("read_then_update", ActionKind.WRITE),  # any write word makes it a write
        ("runReport", ActionKind.WRITE),
        ("Query.Execute", ActionKind.WRITE),
        ("summarize", ActionKind.UNKNOWN),
        ("output_formatter", ActionKind.UNKNOWN),
    ],
)
def test_actions_are_matched_on_whole_words(action: str, kind: ActionKind) -> None:
    assert ModeRules().classify(action) is kind


def test_get_runtime_is_a_read_allowed_in_explore(enforcer: ModeEnforcer, ledger: Ledger) -> None:
    enforcer.set_mode("researcher", AgentMode.EXPLORE)

    assert enforcer.can_execute("researcher", "get_runtime") is True
    assert enforcer.can_execute("researcher", "run_migration") is False
    assert verdicts(ledger) == [("checked", "get_runtime", ""), ("violated", "run_migration", "blocked")]


def test_an_unknown_verb_is_denied_in_explore(enforcer: ModeEnforcer, ledger: Ledger) -> None:
    enforcer.set_mode("researcher", AgentMode.EXPLORE)

    assert enforcer.can_execute("researcher", "summarize") is False
    assert verdicts(ledger) == [("violated", "summarize", "blocked_unknown")]


def test_explore_can_be_configured_to_allow_unknown_verbs(ledger: Ledger, clock: ManualClock) -> None:
    enforcer = ModeEnforcer(ledger=ledger, clock=clock, rules=ModeRules(explore_allows_unknown=True))
    enforcer.set_mode("researcher", AgentMode.EXPLORE)

    assert enforcer.can_execute("researcher", "summarize") is True
    assert enforcer.can_execute("researcher", "send_email") is False


def test_word_lists_are_configuration(ledger: Ledger, clock: ManualClock) -> None:
    rules = ModeRules(read_words={"Summarize", "get"}, write_words={"publish"})
    enforcer = ModeEnforcer(ledger=ledger, clock=clock, rules=rules)
    enforcer.set_mode("a", "explore")

    assert enforcer.can_execute("a", "summarize_doc") is True
    assert enforcer.can_execute("a", "get_and_publish") is False
    assert enforcer.can_execute("a", "search_docs") is False  # not a read word any more


def test_an_agent_whose_mode_was_never_set_is_in_explore(enforcer: ModeEnforcer) -> None:
    assert enforcer.get_mode("stranger") is AgentMode.EXPLORE
    assert enforcer.can_execute("stranger", "search_web") is True
    assert enforcer.can_execute("stranger", "delete_user") is False


def test_each_blocked_attempt_is_recorded_once(enforcer: ModeEnforcer, ledger: Ledger) -> None:
    enforcer.set_mode("researcher", "explore")

    for _ in range(3):
        assert enforcer.can_execute("researcher", "database_write") is False

    assert verdicts(ledger) == [("violated", "database_write", "blocked")] * 3
    assert len(enforcer.get_violations(agent="researcher")) == 3


def test_execute_mode_allows_and_logs_every_action(enforcer: ModeEnforcer, ledger: Ledger) -> None:
    enforcer.set_mode("executor", AgentMode.EXECUTE)

    assert enforcer.can_execute("executor", "drop_table") is True
    assert enforcer.can_execute("executor", "frobnicate") is True
    assert verdicts(ledger) == [("checked", "drop_table", ""), ("checked", "frobnicate", "")]


def test_mode_names_are_case_insensitive(enforcer: ModeEnforcer) -> None:
    enforcer.set_mode("executor", "EXECUTE")

    assert enforcer.get_mode("executor") is AgentMode.EXECUTE
    with pytest.raises(ValueError, match="'sleep'"):
        enforcer.set_mode("executor", "sleep")


def test_escalate_asks_the_approver_about_each_action_and_records_the_decision(
    enforcer: ModeEnforcer, ledger: Ledger
) -> None:
    asked: list[str] = []

    def approve(action: str) -> bool:
        asked.append(action)
        return action == "send_refund"

    enforcer.set_mode("reviewer", AgentMode.ESCALATE)
    enforcer.require_approval("reviewer", approve, approver="on-call")

    assert enforcer.can_execute("reviewer", "send_refund") is True
    assert enforcer.can_execute("reviewer", "delete_account") is False
    assert asked == ["send_refund", "delete_account"]
    assert verdicts(ledger) == [
        ("checked", "send_refund", "on-call"),
        ("violated", "delete_account", "denied_by_approver"),
    ]


def test_escalate_without_an_approver_is_denied(enforcer: ModeEnforcer, ledger: Ledger) -> None:
    enforcer.set_mode("reviewer", AgentMode.ESCALATE)

    assert enforcer.can_execute("reviewer", "search_docs") is False
    assert verdicts(ledger) == [("violated", "search_docs", "no_approver")]


def test_an_approver_that_fails_denies_the_action(enforcer: ModeEnforcer, ledger: Ledger) -> None:
    def broken(action: str) -> bool:
        raise RuntimeError("approval service down")

    enforcer.set_mode("reviewer", AgentMode.ESCALATE)
    enforcer.require_approval("reviewer", broken)

    assert enforcer.can_execute("reviewer", "send_refund") is False
    assert verdicts(ledger) == [("violated", "send_refund", "approval_failed")]


def test_an_async_approver_is_awaited_by_can_execute_async(enforcer: ModeEnforcer, ledger: Ledger) -> None:
    async def approve(action: str) -> bool:
        await asyncio.sleep(0)
        return action.startswith("send")

    enforcer.set_mode("reviewer", AgentMode.ESCALATE)
    enforcer.require_approval("reviewer", approve)

    async def check() -> list[bool]:
        return [
            await enforcer.can_execute_async("reviewer", "send_refund"),
            await enforcer.can_execute_async("reviewer", "drop_table"),
        ]

    assert asyncio.run(check()) == [True, False]
    # The synchronous check cannot await it: it says so (and leaves no un-awaited coroutine).
    with pytest.raises(TypeError, match="can_execute_async"):
        enforcer.can_execute("reviewer", "send_refund")
    assert len(verdicts(ledger)) == 2


def test_record_action_judges_what_was_taken(enforcer: ModeEnforcer, ledger: Ledger) -> None:
    enforcer.set_mode("researcher", AgentMode.EXPLORE)

    assert enforcer.record_action(agent="researcher", action="database_read", allowed=True) is True
    assert enforcer.record_action(agent="researcher", action="database_read", allowed=False) is False
    # Taken in explore, but a write: outside the mode whatever the caller says.
    assert enforcer.record_action(agent="researcher", action="database_write", allowed=True) is False
    assert verdicts(ledger) == [
        ("checked", "database_read", ""),
        ("violated", "database_read", "not_allowed"),
        ("violated", "database_write", "outside_mode"),
    ]


def test_violations_carry_their_time_and_filter_by_agent_and_time(
    enforcer: ModeEnforcer, clock: ManualClock
) -> None:
    enforcer.set_mode("a", "explore")
    enforcer.set_mode("b", "explore")
    first = clock.now
    enforcer.can_execute("a", "write_file")
    later = clock.advance(minutes=5)
    enforcer.can_execute("b", "delete_file")
    enforcer.can_execute("a", "post_message")

    violations = enforcer.get_violations(agent="a")

    assert [(v.attempted_action, v.timestamp) for v in violations] == [
        ("write_file", first),
        ("post_message", later),
    ]
    assert all(v.mode == "explore" for v in violations)
    assert [v.attempted_action for v in enforcer.get_violations()] == [
        "write_file",
        "delete_file",
        "post_message",
    ]
    naive_since = later.replace(tzinfo=None)  # naive times are UTC
    assert [v.attempted_action for v in enforcer.get_violations(since=naive_since)] == [
        "delete_file",
        "post_message",
    ]


def test_checks_feed_mode_adherence(enforcer: ModeEnforcer, ledger: Ledger, clock: ManualClock) -> None:
    enforcer.set_mode("researcher", "explore")
    for action in ("search_web", "read_file", "fetch_page", "write_file"):
        enforcer.can_execute("researcher", action)
    clock.advance(seconds=1)  # reports end at "now", exclusive

    report = ReliabilityMetrics(ledger=ledger, clock=clock).report()

    assert report.mode_observations == 4
    assert report.ma == pytest.approx(3 / 4)
    assert report.agent_metrics["researcher"].ma == pytest.approx(3 / 4)


def test_enforcers_on_one_ledger_share_modes_and_violations(ledger: Ledger, clock: ManualClock) -> None:
    setter = ModeEnforcer(ledger=ledger, clock=clock)
    checker = ModeEnforcer(ledger=ledger, clock=clock)
    setter.set_mode("executor", AgentMode.EXECUTE)
    setter.set_mode("researcher", AgentMode.EXPLORE)

    assert checker.can_execute("executor", "database_write") is True
    assert checker.can_execute("researcher", "database_write") is False
    assert [v.agent for v in setter.get_violations()] == ["researcher"]
    setter.set_mode("researcher", AgentMode.EXECUTE)
    assert checker.can_execute("researcher", "database_write") is True


def test_verdicts_belong_to_a_workflow_when_given(enforcer: ModeEnforcer, ledger: Ledger) -> None:
    enforcer.set_mode("researcher", "explore")
    enforcer.can_execute("researcher", "write_file", workflow_id="wf-7")

    (violation,) = enforcer.get_violations()
    assert violation.workflow_id == "wf-7"
    assert [r.event.type for r in ledger.read(workflow_id="wf-7")] == ["ModeViolated"]
