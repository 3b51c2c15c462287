"""Replay of a redacted recording: redacted values are served as recorded and are "not comparable"."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ledger import Ledger, ReplayAttempted, open_ledger
from replay import DecisionTrail, Replayer, ReplayResult, RunContext, ToolRegistry
from tests.conftest import ManualClock
from tests.replay.support import record_run

POLICY = {
    "detectors": ["email"],
    "rules": [{"type": "ToolCalled", "path": "result.token", "action": "drop", "name": "token"}],
}
INPUTS = {"n": 1}


@dataclass(frozen=True)
class Mailer:
    """Looks up an address, then sends to what the lookup returned."""

    shift: int = 0

    async def run(self, ctx: RunContext, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Two calls; the outcome is what the first returned."""
        found = await ctx.call_tool("lookup", user="ann", n=inputs["n"] + self.shift)
        await ctx.call_tool("send", to=found["owner"], body="hello")
        ctx.record_step(True, agent="mailer")
        return {"owner": found["owner"]}


def tools(owner: str = "ann@example.com") -> ToolRegistry:
    return ToolRegistry(
        {
            "lookup": lambda user, n: {"owner": owner, "n": n, "token": "t-1"},
            "send": lambda to, body: {"sent": True},
        }
    )


def recorded(ledger: Ledger, clock: ManualClock) -> DecisionTrail:
    return asyncio.run(record_run(ledger, clock, "wf-mail", Mailer(), INPUTS, tools()))


def paths(result: ReplayResult) -> list[tuple[str, str]]:
    return [(n.location, n.path) for n in result.not_comparable]


def test_a_redacted_result_is_served_as_recorded_and_not_compared() -> None:
    clock = ManualClock()
    with open_ledger("memory://", redaction=POLICY) as ledger:
        trail = recorded(ledger, clock)
        lookup = trail.history.tape[0]
        assert lookup.result == {"owner": "[redacted:email]", "n": 1}  # stored redacted

        result = asyncio.run(Replayer(trail, clock=clock).simulated_replay(Mailer()))
        attempt = [r.event for r in ledger.read(types=["ReplayAttempted"])][-1]

    # The tape serves the redacted result: the replay sends to the marker, as the recording did.
    assert result.outcome == {"owner": "[redacted:email]"}
    assert result.success and result.differences == ()
    assert paths(result) == [("call 1", "arguments.to"), ("outcome", "outcome.owner")]
    assert not result.is_exact_match()  # an uncompared value is not a match
    assert isinstance(attempt, ReplayAttempted) and attempt.not_comparable == 2


def test_strict_replay_reports_a_redacted_path_as_not_comparable_never_a_difference() -> None:
    clock = ManualClock()
    with open_ledger("memory://", redaction=POLICY) as ledger:
        trail = recorded(ledger, clock)
        # Real tools now return another address and token: on redacted paths only.
        result = asyncio.run(Replayer(trail, clock=clock).strict_replay(Mailer(), tools("bob@example.com")))

    assert result.success
    assert result.differences == ()  # the outcome differs too, on its redacted path only
    assert paths(result) == [
        ("call 0", "result.owner"),
        ("call 0", "result.token"),
        ("call 1", "arguments.to"),
        ("outcome", "outcome.owner"),
    ]
    assert {n.action for n in result.not_comparable} == {"mask", "drop"}


def test_a_difference_outside_the_redacted_paths_is_still_a_difference() -> None:
    clock = ManualClock()
    with open_ledger("memory://", redaction=POLICY) as ledger:
        trail = recorded(ledger, clock)
        result = asyncio.run(Replayer(trail, clock=clock).strict_replay(Mailer(shift=1), tools()))

    assert not result.success
    (difference,) = [d for d in result.differences if d.location == "call 0" and d.field == "arguments"]
    assert difference.significance == "critical"


def test_an_unredacted_recording_has_nothing_not_comparable() -> None:
    clock = ManualClock()
    with open_ledger("memory://") as ledger:
        trail = recorded(ledger, clock)
        result = asyncio.run(Replayer(trail, clock=clock).simulated_replay(Mailer()))

    assert result.not_comparable == () and result.is_exact_match()
