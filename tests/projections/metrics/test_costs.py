"""Costs: exact money, effective-dated prices, unpriced models, reports, budgets and reservations.

Money is ``Decimal`` end to end (never a float sum); an unknown model is recorded as ``unpriced``
with its tokens kept and is never counted as $0; a budget's spend is taken over the rolling
window ``now - period_hours < t <= now`` of an injected clock, and spend == limit is still within it.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ledger import (
    BudgetBreached,
    BudgetReservationReleased,
    BudgetReserved,
    CostIncurred,
    Ledger,
    LedgerError,
    WorkflowCompleted,
)
from projections import (
    DEFAULT_PRICES,
    BudgetExceededError,
    CostBudget,
    CostTracker,
    ModelPrice,
    PriceTable,
    UnknownBudgetError,
)
from projections.fold.runner import fold_range
from projections.metrics import cost_totals as costs_module
from tests.conftest import ManualClock
from tests.projections.support import at


def events_of(ledger: Ledger, event_type: type[Any]) -> list[Any]:
    return [r.event for r in ledger.read() if isinstance(r.event, event_type)]


# -- exact money ------------------------------------------------------------------------------


def test_a_thousand_tenth_of_a_dollar_tool_costs_sum_to_exactly_one_hundred(
    tracker: CostTracker,
) -> None:
    for i in range(1000):
        tracker.record_tool_cost("agent", "api", 0.1, occurred_at=at(i / 100))

    report = tracker.report()

    # A float sum would be 99.9999999999986.
    assert sum(0.1 for _ in range(1000)) != 100
    assert report.total_cost == Decimal("100")
    assert isinstance(report.total_cost, Decimal)
    assert report.cost_by_agent == {"agent": Decimal("100")}
    assert report.cost_per_workflow == None and not report.cost_per_workflow.measured  # noqa: E711


def test_tiny_token_prices_sum_exactly(tracker: CostTracker) -> None:
    for i in range(7):
        tracker.record_llm_cost("agent", 1, 0, "gpt-4o-mini", occurred_at=at(i))

    # gpt-4o-mini: $0.15 per million prompt tokens.
    assert tracker.report().total_cost == Decimal("0.00000105")


def test_tool_costs_keep_the_decimal_given_as_text_float_or_decimal(
    tracker: CostTracker, ledger: Ledger
) -> None:
    tracker.record_tool_cost("a", "t", "0.30", occurred_at=at(1))
    tracker.record_tool_cost("a", "t", 0.3, occurred_at=at(2))
    tracker.record_tool_cost("a", "t", Decimal("0.3"), occurred_at=at(3))

    assert [str(e.amount) for e in events_of(ledger, CostIncurred)] == ["0.30", "0.3", "0.3"]
    assert tracker.report().total_cost == Decimal("0.9")


# -- pricing ------------------------------------------------------------------------------------


def test_gpt4_is_priced_by_the_guides_per_thousand_rates(tracker: CostTracker) -> None:
    event = tracker.record_llm_cost("researcher", 1000, 500, "gpt-4", occurred_at=at(1))

    # $0.03 per 1K prompt tokens + $0.06 per 1K completion tokens.
    assert event.amount == Decimal("0.06")
    assert event.status == "priced"
    assert event.currency == "USD"
    assert event.price_version == "default:gpt-4@2023-03-14"
    assert (event.prompt_tokens, event.completion_tokens) == (1000, 500)


def test_the_price_in_force_on_the_day_of_the_spend_is_used(tracker: CostTracker, ledger: Ledger) -> None:
    before = datetime(2024, 8, 5, 23, 59, 59, tzinfo=UTC)
    after = datetime(2024, 8, 6, tzinfo=UTC)

    old = tracker.record_llm_cost("a", 1000, 1000, "gpt-4o", occurred_at=before)
    new = tracker.record_llm_cost("a", 1000, 1000, "gpt-4o", occurred_at=after)

    assert old.amount == Decimal("0.020")  # $5 + $15 per million
    assert new.amount == Decimal("0.0125")  # $2.50 + $10 per million
    assert old.price_version == "default:gpt-4o@2024-05-13"
    assert new.price_version == "default:gpt-4o@2024-08-06"
    stored = events_of(ledger, CostIncurred)
    assert [e.price_version for e in stored] == [old.price_version, new.price_version]
    assert [e.amount for e in stored] == [Decimal("0.020"), Decimal("0.0125")]


def test_a_model_used_before_its_first_price_is_unpriced(tracker: CostTracker) -> None:
    event = tracker.record_llm_cost("a", 10, 10, "gpt-4o", occurred_at=datetime(2024, 5, 12, tzinfo=UTC))

    assert event.status == "unpriced"
    assert event.amount is None


def test_a_provider_prefix_finds_the_models_price(tracker: CostTracker) -> None:
    event = tracker.record_llm_cost("a", 1000, 500, "openai/gpt-4", occurred_at=at(1))

    assert event.amount == Decimal("0.06")


def test_an_unknown_model_is_unpriced_with_its_tokens_kept_and_never_counted_as_zero(
    tracker: CostTracker, ledger: Ledger
) -> None:
    tracker.record_llm_cost("a", 1000, 500, "gpt-4", "wf-1", occurred_at=at(1))
    event = tracker.record_llm_cost("b", 700, 300, "local-llama", "wf-1", occurred_at=at(2))

    assert event.status == "unpriced"
    assert event.amount is None
    assert event.price_version is None
    (stored,) = [e for e in events_of(ledger, CostIncurred) if e.model == "local-llama"]
    assert (stored.status, stored.amount, stored.prompt_tokens, stored.completion_tokens) == (
        "unpriced",
        None,
        700,
        300,
    )
    report = tracker.report()
    assert report.total_cost == Decimal("0.06")
    assert report.unpriced_models == ["local-llama"]
    assert report.unpriced_tokens == 1000
    assert (report.priced_events, report.unpriced_events) == (1, 1)
    assert report.total_tokens == 2500
    # Not shown as $0 against the model or the agent.
    assert "local-llama" not in report.cost_by_model
    assert "b" not in report.cost_by_agent


def test_cached_and_cache_write_tokens_are_priced_at_their_own_rates(tracker: CostTracker) -> None:
    day = datetime(2024, 12, 1, tzinfo=UTC)

    gpt = tracker.record_llm_cost("a", 1000, 200, "gpt-4o", cached_tokens=400, occurred_at=day)
    claude = tracker.record_llm_cost(
        "a",
        1000,
        100,
        "claude-3-5-sonnet",
        cached_tokens=200,
        cache_write_tokens=300,
        occurred_at=day,
    )

    # gpt-4o: 600 x $2.50 + 400 cached x $1.25 + 200 x $10, per million.
    assert gpt.amount == Decimal("0.004")
    assert gpt.cached_tokens == 400
    # claude-3-5-sonnet: 500 x $3 + 200 x $0.30 + 300 x $3.75 + 100 x $15, per million.
    assert claude.amount == Decimal("0.004185")
    assert claude.cache_write_tokens == 300


def test_reasoning_tokens_without_their_own_price_cost_as_output(tracker: CostTracker) -> None:
    day = datetime(2025, 1, 1, tzinfo=UTC)

    with_reasoning = tracker.record_llm_cost("a", 100, 1000, "o1", reasoning_tokens=800, occurred_at=day)
    without = tracker.record_llm_cost("a", 100, 1000, "o1", occurred_at=day)

    assert with_reasoning.amount == without.amount == Decimal("0.0615")  # 100 x $15 + 1000 x $60
    assert with_reasoning.reasoning_tokens == 800


def test_more_cached_than_prompt_tokens_is_refused_and_nothing_is_written(
    tracker: CostTracker, ledger: Ledger
) -> None:
    with pytest.raises(ValueError, match="exceed prompt tokens"):
        tracker.record_llm_cost("a", 100, 10, "gpt-4o", cached_tokens=101, occurred_at=at(1))

    assert ledger.latest_offset() == 0


LITELLM = {
    "sample_spec": {"max_tokens": "set to max output tokens", "litellm_provider": "openai"},
    "acme-large": {
        "input_cost_per_token": 1e-06,
        "output_cost_per_token": 2e-06,
        "cache_read_input_token_cost": 1e-07,
        "output_cost_per_reasoning_token": 3e-06,
        "litellm_provider": "acme",
        "mode": "chat",
    },
    "gpt-4": {"input_cost_per_token": 1e-05, "output_cost_per_token": 2e-05},
    "dall-e-3": {"mode": "image_generation", "input_cost_per_pixel": 2.4414e-07},
}


def test_a_litellm_price_map_adds_and_overrides_models(ledger: Ledger, clock: ManualClock) -> None:
    prices = PriceTable.from_litellm(LITELLM, effective_from=date(2024, 1, 1))
    tracker = CostTracker(ledger=ledger, clock=clock, prices=prices)

    acme = tracker.record_llm_cost(
        "a", 1000, 500, "acme-large", cached_tokens=200, reasoning_tokens=100, occurred_at=at(1)
    )
    gpt4 = tracker.record_llm_cost("a", 1000, 500, "gpt-4", occurred_at=at(2))
    mini = tracker.record_llm_cost("a", 1000, 0, "gpt-4o-mini", occurred_at=at(3))

    # 800 x 1e-6 + 200 x 1e-7 + 400 x 2e-6 + 100 x 3e-6
    assert acme.amount == Decimal("0.00192")
    assert acme.price_version == "litellm:acme-large@2024-01-01"
    assert gpt4.amount == Decimal("0.02")  # overridden: 1000 x 1e-5 + 500 x 2e-5
    assert gpt4.price_version == "litellm:gpt-4@2024-01-01"
    assert mini.amount == Decimal("0.00015")  # untouched default
    assert "dall-e-3" not in prices.models
    assert "sample_spec" not in prices.models


def test_a_litellm_price_file_is_read_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(LITELLM))

    for source in (path, str(path)):
        price = PriceTable.from_litellm(source, effective_from=date(2024, 1, 1)).lookup(
            "acme-large", date(2024, 6, 1)
        )
        assert price is not None
        assert price.input_per_token == Decimal("0.000001")
        assert price.cached_input_per_token == Decimal("0.0000001")


def test_user_prices_can_be_added_with_their_own_currency(ledger: Ledger, clock: ManualClock) -> None:
    euro = ModelPrice(
        model="eu-model",
        effective_from=date(2024, 1, 1),
        input_per_token=Decimal("0.001"),
        output_per_token=Decimal("0.002"),
        currency="EUR",
        source="contract",
    )
    tracker = CostTracker(ledger=ledger, clock=clock, prices=PriceTable().with_prices([euro]))

    event = tracker.record_llm_cost("a", 10, 10, "eu-model", occurred_at=at(1))
    tracker.record_llm_cost("a", 1000, 500, "gpt-4", occurred_at=at(2))

    assert (event.amount, event.currency, event.price_version) == (
        Decimal("0.030"),
        "EUR",
        "contract:eu-model@2024-01-01",
    )
    report = tracker.report()
    assert report.total_cost == Decimal("0.06")  # USD only: euros are never added to dollars
    assert report.totals_by_currency == {"EUR": Decimal("0.030"), "USD": Decimal("0.06")}


def test_the_default_price_table_has_the_guides_gpt4_rates() -> None:
    (gpt4,) = [p for p in DEFAULT_PRICES if p.model == "gpt-4"]

    assert gpt4.input_per_token * 1000 == Decimal("0.03")
    assert gpt4.output_per_token * 1000 == Decimal("0.06")


# -- reports ------------------------------------------------------------------------------------


def record_mixed_costs(tracker: CostTracker, ledger: Ledger) -> None:
    tracker.record_llm_cost("a1", 1000, 500, "gpt-4", "wf-1", occurred_at=at(0))  # 0.06
    tracker.record_tool_cost("a2", "search", "0.25", "wf-1", occurred_at=at(60))
    tracker.record_tool_cost("a2", "dall_e", "0.50", "wf-2", category="image", occurred_at=at(61))
    tracker.record_llm_cost("a1", 2000, 0, "gpt-4", "wf-2", occurred_at=at(120))  # 0.06
    tracker.record_tool_cost("a3", "ping", "0.10", occurred_at=at(121))  # in no workflow
    ledger.append(
        [
            WorkflowCompleted(workflow_id="wf-1", success=True, occurred_at=at(130)),
            WorkflowCompleted(workflow_id="wf-2", success=False, occurred_at=at(131)),
        ]
    )


def test_report_breaks_costs_down_by_agent_model_category_and_workflow(
    tracker: CostTracker, ledger: Ledger
) -> None:
    record_mixed_costs(tracker, ledger)

    report = tracker.report()

    assert report.currency == "USD"
    assert report.total_cost == Decimal("0.97")
    assert report.cost_by_agent == {
        "a1": Decimal("0.12"),
        "a2": Decimal("0.75"),
        "a3": Decimal("0.10"),
    }
    assert report.cost_by_model["gpt-4"] == Decimal("0.12")
    assert report.cost_by_category == {
        "image": Decimal("0.50"),
        "llm": Decimal("0.12"),
        "tool": Decimal("0.35"),
    }
    assert report.cost_by_workflow == {"wf-1": Decimal("0.31"), "wf-2": Decimal("0.56")}


def test_per_workflow_figures_divide_by_distinct_workflows_with_costs(
    tracker: CostTracker, ledger: Ledger
) -> None:
    record_mixed_costs(tracker, ledger)

    report = tracker.report()

    assert report.workflows == 2
    assert report.cost_per_workflow == Decimal("0.485")  # total 0.97 / 2 workflows
    assert report.successful_workflows == 1
    assert report.cost_per_successful_workflow == Decimal("0.97")  # total / 1 successful
    assert report.total_tokens == 3500
    assert report.tokens_per_workflow == 1750.0  # 1500 in wf-1, 2000 in wf-2


def test_no_costs_give_zero_spend_and_no_per_workflow_figures(tracker: CostTracker) -> None:
    report = tracker.report()

    assert report.total_cost == Decimal(0)
    assert (report.cost_per_workflow, report.cost_per_successful_workflow) == (None, None)
    assert report.tokens_per_workflow == None and not report.tokens_per_workflow.measured  # noqa: E711
    assert report.unpriced_models == []


def test_a_windowed_report_sums_only_the_window(tracker: CostTracker, ledger: Ledger) -> None:
    record_mixed_costs(tracker, ledger)

    report = tracker.report(since=at(60), until=at(120))  # the search and dall_e costs

    assert report.total_cost == Decimal("0.75")
    assert report.cost_by_agent == {"a2": Decimal("0.75")}
    assert report.cost_by_category == {"image": Decimal("0.50"), "tool": Decimal("0.25")}
    assert report.cost_by_workflow == {"wf-1": Decimal("0.25"), "wf-2": Decimal("0.50")}
    assert report.workflows == 2
    assert report.cost_per_workflow == Decimal("0.375")
    assert report.total_tokens == 0


def test_the_running_totals_report_equals_a_window_covering_everything(
    tracker: CostTracker, ledger: Ledger
) -> None:
    record_mixed_costs(tracker, ledger)
    tracker.record_llm_cost("a4", 10, 10, "local-llama", "wf-3", occurred_at=at(140))

    everything = tracker.report(since=at(-10_000), until=at(10_000))

    assert tracker.report() == everything
    assert everything.total_cost == Decimal("0.97")


@pytest.mark.parametrize("seed", range(5))
def test_running_counts_stay_equal_to_a_full_window_as_costs_and_outcomes_arrive(
    tracker: CostTracker, ledger: Ledger, seed: int
) -> None:
    # The unwindowed report keeps running counts between reports (workflows with costs, the
    # successful ones, tokens, priced/unpriced): after any interleaving of costs, outcomes
    # (also before a workflow's first cost) and reports it must equal a window over everything,
    # and so must a projection restored from its saved bytes.
    rng = random.Random(seed)
    for step in range(60):
        wf = rng.choice([None, "wf-1", "wf-2", "wf-3", f"wf-{step}"])
        kind = rng.random()
        if kind < 0.4:
            model = rng.choice(["gpt-4", "gpt-4o-mini", "local-llama"])
            tracker.record_llm_cost(
                "a1", rng.randint(0, 900), rng.randint(0, 300), model, wf, occurred_at=at(step)
            )
        elif kind < 0.6:
            tracker.record_tool_cost(rng.choice(["a2", "a3"]), "search", "0.25", wf, occurred_at=at(step))
        elif kind < 0.7:  # another currency, straight to the ledger
            ledger.append(
                CostIncurred(
                    agent="a4",
                    workflow_id=wf,
                    category="tool",
                    amount=Decimal("0.5"),
                    currency="EUR",
                    prompt_tokens=rng.randint(0, 50),
                    occurred_at=at(step),
                )
            )
        elif wf is not None:
            ledger.append(WorkflowCompleted(workflow_id=wf, success=rng.random() < 0.6, occurred_at=at(step)))
        if rng.random() < 0.3:
            for currency in ("USD", "EUR"):
                running = tracker.projection().report(currency=currency)
                assert running == tracker.projection().report(
                    currency=currency, since_us=-(2**62), until_us=2**62
                )
                # ... and a projection folded afresh, which shares no cached state with this one.
                fresh = tracker.projection(as_of=ledger.latest_offset())
                assert running == fresh.report(currency=currency)
    running = tracker.report()
    assert running == tracker.report(since=at(-10_000), until=at(10_000))
    assert running == tracker.projection(as_of=ledger.latest_offset()).report()
    projection = tracker.projection()
    restored = type(projection).from_bytes(projection.to_bytes())
    assert restored is not None
    assert restored.report() == projection.report()
    # A restored projection reports, then folds on and reports again.
    tracker.record_llm_cost("a1", 100, 100, "local-llama", "wf-new", occurred_at=at(100))
    ledger.append(WorkflowCompleted(workflow_id="wf-new", success=True, occurred_at=at(101)))
    fold_range(ledger, [restored])
    assert restored.report() == tracker.projection(as_of=ledger.latest_offset()).report()


def test_a_report_interrupted_midway_does_not_count_rows_twice(
    tracker: CostTracker, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_mixed_costs(tracker, ledger)
    projection = tracker.projection()
    calls = 0
    add = costs_module._add

    def interrupted(into: dict[str, Decimal], key: str, amount: Decimal) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt
        add(into, key, amount)

    monkeypatch.setattr(costs_module, "_add", interrupted)
    with pytest.raises(KeyboardInterrupt):
        projection.report()
    monkeypatch.setattr(costs_module, "_add", add)

    assert projection.report() == tracker.projection(as_of=ledger.latest_offset()).report()
    assert projection.report().total_cost == Decimal("0.97")


def test_a_cost_report_without_until_includes_every_cost_so_far(
    tracker: CostTracker, clock: ManualClock
) -> None:
    # semantics.md: no until = every event recorded so far, even one dated after the clock's now;
    # an explicit until=now is the half-open window that excludes it.
    tracker.record_tool_cost("a", "t", "1.00", occurred_at=clock() - timedelta(hours=1))
    tracker.record_tool_cost("a", "t", "5.00", occurred_at=clock() + timedelta(hours=1))

    assert tracker.report().total_cost == Decimal("6.00")
    assert tracker.report(until=clock()).total_cost == Decimal("1.00")


# -- budgets ------------------------------------------------------------------------------------


def test_spend_equal_to_the_limit_is_within_budget_and_above_it_is_not(
    tracker: CostTracker, clock: ManualClock
) -> None:
    tracker.set_budget(CostBudget("daily", total_limit=Decimal("1.00"), period_hours=24))
    tracker.record_tool_cost("a", "t", "0.60", occurred_at=clock() - timedelta(hours=2))
    tracker.record_tool_cost("a", "t", "0.40", occurred_at=clock() - timedelta(hours=1))

    status = tracker.budget_status("daily")
    assert status.spend == Decimal("1.00")
    assert status.limit == Decimal("1.00")
    assert status.within_budget
    assert tracker.is_within_budget()

    tracker.record_tool_cost("a", "t", "0.01", occurred_at=clock() - timedelta(minutes=1))

    assert not tracker.is_within_budget("daily")
    assert tracker.budget_status("daily").breaches == ["total: spent 1.01 > limit 1.00"]


def test_budget_window_is_the_rolling_period_before_now(tracker: CostTracker, clock: ManualClock) -> None:
    tracker.set_budget(CostBudget("daily", Decimal("1.00"), 24))
    now = clock()
    tracker.record_tool_cost("a", "t", "5.00", occurred_at=now - timedelta(hours=24))
    tracker.record_tool_cost("a", "t", "0.70", occurred_at=now - timedelta(hours=24, microseconds=-1))
    tracker.record_tool_cost("a", "t", "0.30", occurred_at=now - timedelta(hours=1))

    assert tracker.budget_status("daily").spend == Decimal("1.00")
    assert tracker.is_within_budget()

    clock.advance(hours=1)  # the 0.70 leaves the window

    assert tracker.budget_status("daily").spend == Decimal("0.30")


def test_a_budget_without_a_period_counts_all_time(tracker: CostTracker, clock: ManualClock) -> None:
    tracker.set_budget(CostBudget("forever", Decimal("1.00")))
    tracker.record_tool_cost("a", "t", "0.90", occurred_at=clock() - timedelta(days=400))
    tracker.record_tool_cost("a", "t", "0.20", occurred_at=clock() - timedelta(hours=1))

    status = tracker.budget_status("forever")
    assert status.period_hours is None
    assert status.spend == Decimal("1.10")
    assert not status.within_budget


def test_category_and_agent_limits_are_each_judged(tracker: CostTracker, clock: ManualClock) -> None:
    tracker.set_budget(
        CostBudget(
            "team",
            total_limit=Decimal(100),
            period_hours=24,
            category_limits={"image": Decimal("1.00")},
            agent_limits={"a2": Decimal("0.50")},
        )
    )
    hour_ago = clock() - timedelta(hours=1)
    tracker.record_tool_cost("a1", "dall_e", "1.00", category="image", occurred_at=hour_ago)
    tracker.record_tool_cost("a2", "search", "0.50", occurred_at=hour_ago)
    assert tracker.is_within_budget("team")

    tracker.record_tool_cost("a1", "dall_e", "0.01", category="image", occurred_at=hour_ago)
    assert tracker.budget_status("team").breaches == ["category:image: spent 1.01 > limit 1.00"]

    tracker.record_tool_cost("a2", "search", "0.02", occurred_at=hour_ago)
    assert tracker.budget_status("team").breaches == [
        "category:image: spent 1.01 > limit 1.00",
        "agent:a2: spent 0.52 > limit 0.50",
    ]
    assert not tracker.is_within_budget()


def test_is_within_budget_without_a_name_judges_every_budget(
    tracker: CostTracker, clock: ManualClock
) -> None:
    tracker.set_budget(CostBudget("big", Decimal(100), 24))
    tracker.set_budget(CostBudget("small", Decimal(1), 24))
    tracker.record_tool_cost("a", "t", "2", occurred_at=clock() - timedelta(hours=1))

    assert tracker.is_within_budget("big")
    assert not tracker.is_within_budget("small")
    assert not tracker.is_within_budget()
    assert [b.name for b in tracker.report().budgets] == ["big", "small"]


def test_an_unknown_budget_name_is_a_clear_error(tracker: CostTracker) -> None:
    tracker.set_budget(CostBudget("daily", Decimal(100), 24))
    tracker.set_budget(CostBudget("weekly", Decimal(500), 168))

    for call in (
        lambda: tracker.is_within_budget("monthly"),
        lambda: tracker.budget_status("monthly"),
        lambda: tracker.reserve("monthly", 1),
    ):
        with pytest.raises(UnknownBudgetError) as caught:
            call()
        assert str(caught.value) == "no budget named 'monthly' (set ones: daily, weekly)"
        assert caught.value.name == "monthly"


def test_budget_limits_given_as_float_int_or_text_become_exact_decimals() -> None:
    # The guide writes CostBudget("daily", 100.0, 24); floats go through their text, not binary.
    budget = CostBudget(
        "b",
        0.1,  # type: ignore[arg-type]
        24,
        category_limits={"image": "0.3"},  # type: ignore[dict-item]
        agent_limits={"bot": 2},  # type: ignore[dict-item]
    )

    assert budget.total_limit == Decimal("0.1")
    assert budget.category_limits == {"image": Decimal("0.3")}
    assert budget.agent_limits == {"bot": Decimal(2)}
    assert all(
        isinstance(v, Decimal)
        for v in (budget.total_limit, *budget.category_limits.values(), *budget.agent_limits.values())
    )


def test_budgets_refuse_nonsense_limits() -> None:
    with pytest.raises(ValueError, match="total_limit must not be negative"):
        CostBudget("b", Decimal(-1))
    with pytest.raises(ValueError, match="period_hours must be positive"):
        CostBudget("b", Decimal(1), 0)


def test_costs_dated_before_now_append_one_breach_when_spend_crosses_the_limit(
    tracker: CostTracker, ledger: Ledger, clock: ManualClock
) -> None:
    tracker.set_budget(CostBudget("daily", Decimal("1.00"), 24))
    now = clock()

    tracker.record_tool_cost("a", "t", "0.60", occurred_at=now - timedelta(minutes=3))
    assert events_of(ledger, BudgetBreached) == []
    tracker.record_tool_cost("a", "t", "0.60", occurred_at=now - timedelta(minutes=2))
    tracker.record_tool_cost("a", "t", "0.10", occurred_at=now - timedelta(minutes=1))

    (breach,) = events_of(ledger, BudgetBreached)
    assert (breach.budget, breach.scope, breach.limit, breach.spend) == (
        "daily",
        "total",
        Decimal("1.00"),
        Decimal("1.20"),
    )


def test_spend_that_falls_back_under_the_limit_and_crosses_again_is_a_new_breach(
    tracker: CostTracker, ledger: Ledger, clock: ManualClock
) -> None:
    tracker.set_budget(CostBudget("daily", Decimal("1.00"), 24))
    tracker.record_tool_cost("a", "t", "1.50", occurred_at=clock() - timedelta(minutes=1))
    assert len(events_of(ledger, BudgetBreached)) == 1

    clock.advance(hours=25)  # the 1.50 has left the window
    assert tracker.is_within_budget()
    tracker.record_tool_cost("a", "t", "0.50", occurred_at=clock() - timedelta(minutes=2))
    tracker.record_tool_cost("a", "t", "0.70", occurred_at=clock() - timedelta(minutes=1))

    breaches = events_of(ledger, BudgetBreached)
    assert [b.spend for b in breaches] == [Decimal("1.50"), Decimal("1.20")]


def test_costs_recorded_now_append_one_breach_when_spend_crosses_the_limit(
    tracker: CostTracker, ledger: Ledger, clock: ManualClock
) -> None:
    # The guide's calls: costs dated by the clock as they happen, time moving on between them.
    tracker.set_budget(CostBudget("daily", Decimal("1.00"), 24))

    tracker.record_tool_cost("a", "t", "0.60")
    clock.advance(seconds=1)
    tracker.record_tool_cost("a", "t", "0.60")  # crosses the limit
    clock.advance(seconds=1)
    tracker.record_tool_cost("a", "t", "0.10")
    clock.advance(seconds=1)
    tracker.record_tool_cost("a", "t", "0.10")
    clock.advance(seconds=1)

    assert not tracker.is_within_budget("daily")
    breaches = events_of(ledger, BudgetBreached)
    assert [(b.scope, b.spend) for b in breaches] == [("total", Decimal("1.20"))]


def test_a_category_breach_is_its_own_event(tracker: CostTracker, ledger: Ledger, clock: ManualClock) -> None:
    tracker.set_budget(CostBudget("b", Decimal(100), 24, category_limits={"image": Decimal(1)}))
    earlier = clock() - timedelta(minutes=5)

    tracker.record_tool_cost("a", "dall_e", "0.80", category="image", occurred_at=earlier)
    tracker.record_tool_cost("a", "dall_e", "0.80", category="image", occurred_at=earlier)

    (breach,) = events_of(ledger, BudgetBreached)
    assert (breach.scope, breach.limit, breach.spend) == ("category:image", Decimal(1), Decimal("1.60"))


# -- reservations -------------------------------------------------------------------------------


def test_reservations_within_the_limit_are_granted_up_to_exactly_the_limit(
    tracker: CostTracker, ledger: Ledger, clock: ManualClock
) -> None:
    tracker.set_budget(CostBudget("b", Decimal("10"), 24))

    first = tracker.reserve("b", "4")
    second = tracker.reserve("b", 6)

    assert (first.budget, first.amount) == ("b", Decimal("4"))
    assert first.expires_at == clock() + timedelta(seconds=300)
    assert tracker.budget_status("b").reserved == Decimal("10")
    reserved = events_of(ledger, BudgetReserved)
    assert [(e.reservation_id, e.amount) for e in reserved] == [
        (first.reservation_id, Decimal("4")),
        (second.reservation_id, Decimal("6")),
    ]


def test_a_reservation_over_the_limit_raises_and_writes_nothing(tracker: CostTracker, ledger: Ledger) -> None:
    tracker.set_budget(CostBudget("b", Decimal("10"), 24))
    tracker.reserve("b", "7")
    written = ledger.latest_offset()

    with pytest.raises(BudgetExceededError) as caught:
        tracker.reserve("b", "3.01")

    error = caught.value
    assert (error.budget, error.scope, error.limit, error.committed, error.requested) == (
        "b",
        "total",
        Decimal("10"),
        Decimal("7"),
        Decimal("3.01"),
    )
    assert "nothing reserved" in str(error)
    assert ledger.latest_offset() == written


def test_a_negative_reservation_is_refused_and_cannot_stretch_the_budget(
    tracker: CostTracker, ledger: Ledger
) -> None:
    # Negative costs are refused (CostIncurred); a negative reservation would raise the limit.
    tracker.set_budget(CostBudget("b", Decimal("10"), 24))
    written = ledger.latest_offset()  # the BudgetSet

    with pytest.raises((ValueError, LedgerError)):
        tracker.reserve("b", "-5")

    assert ledger.latest_offset() == written
    with pytest.raises(BudgetExceededError):
        tracker.reserve("b", "15")


def test_recorded_spend_counts_against_a_reservation(tracker: CostTracker, clock: ManualClock) -> None:
    tracker.set_budget(CostBudget("b", Decimal("10"), 24))
    tracker.record_tool_cost("a", "t", "7", occurred_at=clock() - timedelta(hours=1))

    with pytest.raises(BudgetExceededError):
        tracker.reserve("b", "3.50")
    assert tracker.reserve("b", "3").amount == Decimal("3")


def test_releasing_a_reservation_gives_it_back(
    tracker: CostTracker, ledger: Ledger, clock: ManualClock
) -> None:
    tracker.set_budget(CostBudget("b", Decimal("10"), 24))
    held = tracker.reserve("b", "10")
    with pytest.raises(BudgetExceededError):
        tracker.reserve("b", "1")

    tracker.release(held)

    assert tracker.budget_status("b").reserved == Decimal(0)
    assert tracker.reserve("b", "10").amount == Decimal("10")
    (released,) = events_of(ledger, BudgetReservationReleased)
    assert released.reservation_id == held.reservation_id
    assert released.settled_amount is None


def test_expired_reservations_stop_counting(tracker: CostTracker, clock: ManualClock) -> None:
    tracker.set_budget(CostBudget("b", Decimal("10"), 24))
    tracker.reserve("b", "10", ttl_seconds=60)
    with pytest.raises(BudgetExceededError):
        tracker.reserve("b", "1")

    clock.advance(seconds=59)
    assert tracker.budget_status("b").reserved == Decimal("10")
    clock.advance(seconds=1)  # the reservation expires at exactly 60 s

    assert tracker.budget_status("b").reserved == Decimal(0)
    assert tracker.reserve("b", "1").amount == Decimal("1")


def test_category_and_agent_limits_bound_reservations_in_that_scope(tracker: CostTracker) -> None:
    tracker.set_budget(
        CostBudget(
            "b", Decimal(100), 24, category_limits={"image": Decimal(2)}, agent_limits={"bot": Decimal(3)}
        )
    )
    tracker.reserve("b", "2", category="image")

    with pytest.raises(BudgetExceededError) as caught:
        tracker.reserve("b", "0.5", category="image")
    assert caught.value.scope == "category:image"

    tracker.reserve("b", "3", agent="bot")
    with pytest.raises(BudgetExceededError) as caught:
        tracker.reserve("b", "0.5", agent="bot")
    assert caught.value.scope == "agent:bot"

    assert tracker.reserve("b", "50").amount == Decimal("50")  # other scopes are unaffected


def test_recording_a_cost_with_its_reservation_settles_it_in_the_same_append(
    tracker: CostTracker, ledger: Ledger, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracker.set_budget(CostBudget("b", Decimal("10"), 24))
    held = tracker.reserve("b", "5")
    batches: list[list[str]] = []
    append = ledger.append

    def spy(events: Any, **kwargs: Any) -> Any:
        batch = events if isinstance(events, list) else [events]
        batches.append([e.type for e in batch])
        return append(events, **kwargs)

    monkeypatch.setattr(ledger, "append", spy)

    cost = tracker.record_tool_cost("a", "t", "4.50", reservation=held)

    assert batches == [["CostIncurred", "BudgetReservationReleased"]]
    (released,) = events_of(ledger, BudgetReservationReleased)
    assert released.reservation_id == held.reservation_id
    assert released.settled_amount == Decimal("4.50")
    assert released.occurred_at == cost.occurred_at
    clock.advance(seconds=1)
    status = tracker.budget_status("b")
    assert (status.reserved, status.spend) == (Decimal(0), Decimal("4.50"))
    assert tracker.reserve("b", "5.50").amount == Decimal("5.50")


def test_an_llm_cost_settles_its_reservation_too(tracker: CostTracker, clock: ManualClock) -> None:
    tracker.set_budget(CostBudget("b", Decimal("1"), 24))
    held = tracker.reserve("b", "1")

    tracker.record_llm_cost("a", 1000, 500, "gpt-4", reservation=held)
    clock.advance(seconds=1)

    status = tracker.budget_status("b")
    assert (status.reserved, status.spend) == (Decimal(0), Decimal("0.06"))
