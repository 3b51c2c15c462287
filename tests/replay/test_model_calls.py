"""Model calls on the tape, with a plain orchestrator: recorded, served by ordinal, changed."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from ledger import Ledger
from replay import (
    DecisionTrailBuilder,
    ModelCallError,
    ModelChange,
    ModelReply,
    ModelRequest,
    Replayer,
    RunContext,
    run_workflow,
)


class Echo:
    """A model that answers with the last message's text, upper-cased; counts its calls."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls = 0
        self.fail_on = fail_on

    def __call__(self, request: ModelRequest) -> ModelReply:
        self.calls += 1
        said = request.messages[-1]["content"]
        if said == self.fail_on:
            raise RuntimeError("overloaded")
        return ModelReply(
            {"content": said.upper(), "model": request.model}, {"input_tokens": 100, "output_tokens": 10}
        )


class Asker:
    """Asks the model about each question in turn; ``order`` reverses them."""

    def __init__(self, model: Echo, questions: list[str], params: dict[str, Any] | None = None) -> None:
        self.model = model
        self.questions = questions
        self.params = params or {}

    async def run(self, ctx: RunContext, inputs: Any) -> Any:
        answers = []
        for q in self.questions:
            request = ModelRequest(
                "gpt-4o",
                ({"role": "system", "content": "Be terse."}, {"role": "user", "content": q}),
                self.params,
            )
            reply = await ctx.call_model(request, self.model)
            answers.append(reply.response["content"])
        return answers


def record(ledger: Ledger, questions: list[str], model: Echo | None = None) -> Any:
    ctx = RunContext(ledger, "wf-ask", inputs={"n": len(questions)})
    asyncio.run(run_workflow(Asker(model or Echo(), questions), ctx, ctx.inputs))
    return asyncio.run(DecisionTrailBuilder(ledger).build_trail("wf-ask"))


def test_each_model_call_is_recorded_with_its_ordinal_hash_and_linked_cost(make_ledger: Any) -> None:
    trail = record(make_ledger(), ["a", "b"])

    calls = trail.history.model_tape
    assert [(c.call_index, c.response["content"]) for c in calls] == [(0, "A"), (1, "B")]
    assert calls[0].request_hash == ModelRequest("gpt-4o", tuple(calls[0].messages)).hash
    costs = {c.event_id: c for c in trail.history.of_type("CostIncurred")}
    assert costs[calls[1].cost_event_id].amount == Decimal("0.00035")  # 100 * 2.5/M + 10 * 10/M
    assert trail.tokens == 220 and [m.model for m in trail.model_calls] == ["gpt-4o", "gpt-4o"]


def test_a_failed_model_call_is_recorded_and_replayed_as_the_same_failure(make_ledger: Any) -> None:
    ledger = make_ledger()
    ctx = RunContext(ledger, "wf-ask")
    with pytest.raises(ModelCallError, match="overloaded"):
        asyncio.run(run_workflow(Asker(Echo(fail_on="b"), ["a", "b"]), ctx, None))
    trail = asyncio.run(DecisionTrailBuilder(ledger).build_trail("wf-ask"))
    assert [(c.success, c.error) for c in trail.model_calls] == [
        (True, None),
        (False, "RuntimeError: overloaded"),
    ]

    result = asyncio.run(Replayer(trail).simulated_replay(Asker(Echo(), ["a", "b"])))

    assert result.success, result.differences


def test_a_simulated_replay_serves_every_model_call_from_the_tape(make_ledger: Any) -> None:
    trail = record(make_ledger(), ["a", "b", "c"])
    model = Echo()

    result = asyncio.run(Replayer(trail).simulated_replay(Asker(model, ["a", "b", "c"])))

    assert result.success and result.is_exact_match() and model.calls == 0


def test_another_request_is_a_divergence_at_its_ordinal_and_stops_the_replay(make_ledger: Any) -> None:
    trail = record(make_ledger(), ["a", "b", "c"])

    result = asyncio.run(Replayer(trail).simulated_replay(Asker(Echo(), ["a", "x", "c"])))

    assert not result.success and result.first_divergence is not None
    assert (result.first_divergence.location, result.first_divergence.field) == ("model call 1", "request")
    assert "NotOnTapeError" in (result.error or "")


def test_fewer_or_more_model_calls_are_reported(make_ledger: Any) -> None:
    trail = record(make_ledger(), ["a", "b"])

    fewer = asyncio.run(Replayer(trail).simulated_replay(Asker(Echo(), ["a"])))
    more = asyncio.run(Replayer(trail).simulated_replay(Asker(Echo(), ["a", "b", "c"])))

    assert ("model call 1", "model_call") in {(d.location, d.field) for d in fewer.differences}
    assert ("model call 2", "model_call") in {(d.location, d.field) for d in more.differences}
    assert not fewer.success and not more.success


def test_the_fallback_by_request_hash_serves_a_reordered_run(make_ledger: Any) -> None:
    trail = record(make_ledger(), ["a", "b"])
    model = Echo()

    by_ordinal = asyncio.run(Replayer(trail).simulated_replay(Asker(model, ["b", "a"])))
    by_hash = asyncio.run(Replayer(trail).simulated_replay(Asker(model, ["b", "a"]), model_fallback="hash"))

    assert not by_ordinal.success and "NotOnTapeError" in (by_ordinal.error or "")
    # Every call found its reply by hash; what still differs is the outcome (asked in another order).
    assert by_hash.completed and by_hash.outcome == ["B", "A"] and model.calls == 0
    assert [d.field for d in by_hash.critical_differences] == ["outcome"]
    assert [(d.location, d.significance) for d in by_hash.differences if d.field == "order"] == [
        ("model call 0", "minor"),
        ("model call 1", "minor"),
    ]


def test_a_counterfactual_model_change_serves_calls_before_it_and_runs_the_rest(make_ledger: Any) -> None:
    trail = record(make_ledger(), ["a", "b", "c"])
    model = Echo()
    fake = Echo()

    result = asyncio.run(
        Replayer(trail).counterfactual_replay(
            orchestrator=Asker(model, ["a", "b", "c"]),
            model_change=ModelChange(
                model="gpt-4o-mini", parameters={"temperature": 0.9}, from_call=1, invoke=fake
            ),
        )
    )

    assert result.success and model.calls == 0 and fake.calls == 2  # call 0 from the tape
    assert [(d.location, d.field) for d in result.differences] == [
        ("model call 1", "model"),
        ("model call 1", "response"),
        ("model call 2", "model"),
        ("model call 2", "response"),
    ]
    # gpt-4o-mini: 100 * 0.15/M + 10 * 0.60/M = 0.000021 per call, instead of 0.00035.
    assert result.deltas["cost"] == 2 * (Decimal("0.000021") - Decimal("0.00035"))
    assert result.deltas["tokens"] == 0 and result.deltas["model_calls"] == 0
    assert result.deltas["outcome_changed"] is False


def test_a_prompt_change_replaces_the_system_message() -> None:
    request = ModelRequest("m", ({"role": "system", "content": "old"}, {"role": "user", "content": "q"}))

    changed = ModelChange(prompt="new").apply(request)
    added = ModelChange(prompt="first").apply(ModelRequest("m", ({"role": "user", "content": "q"},)))

    assert changed.messages[0] == {"role": "system", "content": "new"} and changed.hash != request.hash
    assert added.messages[0] == {"role": "system", "content": "first"}


class PieceAsker(Asker):
    """Asks as a streaming integration does: ``start_model_call``, the reply in pieces, one record."""

    async def run(self, ctx: RunContext, inputs: Any) -> Any:
        answers = []
        for q in self.questions:
            request = ModelRequest("gpt-4o", ({"role": "user", "content": q},))
            call = ctx.start_model_call(request, agent="streamer")
            reply = call.reply
            if reply is None:  # recording: the model runs, its text arrives piece by piece
                try:
                    whole = self.model(call.request)
                except RuntimeError as exc:
                    raise call.fail(exc) from exc
                pieces = list(whole.response["content"])
                reply = ModelReply({**whole.response, "content": "".join(pieces)}, whole.usage)
            call.finish(reply)
            call.finish(reply)  # finishing twice records once
            answers.append(reply.response["content"])
        return answers


def test_a_call_started_and_finished_in_pieces_is_one_model_call_and_replays(make_ledger: Any) -> None:
    ledger = make_ledger()
    ctx = RunContext(ledger, "wf-pieces")
    asyncio.run(run_workflow(PieceAsker(Echo(), ["ab", "cd"]), ctx, None))
    trail = asyncio.run(DecisionTrailBuilder(ledger).build_trail("wf-pieces"))

    calls = trail.history.model_tape
    assert [(c.call_index, c.agent, c.response["content"]) for c in calls] == [
        (0, "streamer", "AB"),
        (1, "streamer", "CD"),
    ]
    assert all(c.cost_event_id is not None and c.duration_ms is not None for c in calls)

    model = Echo()
    result = asyncio.run(Replayer(trail).simulated_replay(PieceAsker(model, ["ab", "cd"])))
    assert result.success and result.is_exact_match(), result.differences
    assert model.calls == 0  # the tape answered: call.reply was set


def test_a_call_started_in_pieces_that_fails_is_recorded_failed_once(make_ledger: Any) -> None:
    ledger = make_ledger()
    with pytest.raises(ModelCallError, match="overloaded"):
        asyncio.run(run_workflow(PieceAsker(Echo(fail_on="b"), ["a", "b"]), RunContext(ledger, "wf-f"), None))
    trail = asyncio.run(DecisionTrailBuilder(ledger).build_trail("wf-f"))

    assert [(c.success, c.error) for c in trail.model_calls] == [
        (True, None),
        (False, "RuntimeError: overloaded"),
    ]
