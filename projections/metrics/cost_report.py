"""The cost projection's report: totals, breakdowns and per-workflow figures, all-time or in a window."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

from projections.fold.columns import window_mask
from projections.metrics.measure import Measure, MoneyMeasure
from projections.metrics.reports import CostReport

if TYPE_CHECKING:
    from projections.metrics.cost_fold import CostProjection

ZERO = Decimal(0)


def _add(totals: dict[str, Decimal], key: str, amount: Decimal) -> None:
    totals[key] = totals.get(key, ZERO) + amount


def cost_report(
    projection: CostProjection,
    *,
    currency: str = "USD",
    since_us: int | None = None,
    until_us: int | None = None,
    include_replays: bool = False,
) -> CostReport:
    """Compute the projection's cost report over ``[since, until)`` in ``currency``.

    Costs of replay workflows are left out (and counted as excluded) unless
    ``include_replays``. The unwindowed report reads the projection's running totals (caught
    up first); a window, or a ledger with replay costs to leave out, sums its rows.
    """
    c = projection.costs
    window = window_mask(c["t"], since_us, until_us)
    excluded_events, excluded_workflows = 0, 0
    replay_rows = None  # set when the running totals serve, less the (few) replay rows
    if not include_replays and projection.replay_workflows:
        wf_codes = c["wf"]
        flags = np.asarray(projection.wf_replay, dtype=np.bool_)
        replay = np.where(wf_codes >= 0, flags[np.maximum(wf_codes, 0)], False)
        if window is not None:
            replay &= window
        if replay.any():
            excluded_events = int(np.count_nonzero(replay))
            excluded_workflows = len(np.unique(wf_codes[replay]))
            if window is None:
                replay_rows = replay
            window = (np.ones(len(replay), dtype=np.bool_) if window is None else window) & ~replay
    if replay_rows is not None:
        # All time, replays left out: the running totals less the replay rows' sums. Summing
        # every production row instead is a Python loop over the whole ledger (O(cost rows)).
        totals, by_agent, by_model, by_category, by_workflow = _totals_without(
            projection, replay_rows, currency
        )
        indexes = window
    elif window is None:
        projection._catch_up_totals()
        totals = dict(projection.totals)
        by_agent = dict(projection.by_agent.get(currency, {}))
        by_model = dict(projection.by_model.get(currency, {}))
        by_category = dict(projection.by_category.get(currency, {}))
        by_workflow = dict(projection.by_workflow.get(currency, {}))
        indexes = None
    else:
        totals, by_agent, by_model, by_category, by_workflow = _windowed_sums(projection, window, currency)
        indexes = window
    total = totals.get(currency, ZERO)
    if indexes is None:
        has_cost = projection._wf_has_cost
        n_wf = int(np.count_nonzero(has_cost))
        successful = int(np.count_nonzero(has_cost & projection._succeeded()[: len(has_cost)]))
        total_tokens, tokens_in_wf = projection._tokens, projection._tokens_in_wf
        priced_events = projection._priced_events
        unpriced_events = len(projection.amounts) - priced_events
        unpriced_tokens, unpriced_codes = projection._unpriced_tokens, projection._unpriced_models
    else:
        wf, tokens = c["wf"][indexes], c["tokens"][indexes]
        priced, models = c["priced"][indexes], c["model"][indexes]
        in_wf = wf >= 0
        # O(rows) presence counts rather than a sort: reports stay fast on large ledgers.
        has_cost = np.bincount(wf[in_wf], minlength=len(projection.workflows)) > 0
        n_wf = int(np.count_nonzero(has_cost))
        successful = int(np.count_nonzero(has_cost & projection._succeeded()))
        total_tokens, tokens_in_wf = int(tokens.sum()), int(tokens[in_wf].sum())
        priced_events = int(np.count_nonzero(priced))
        unpriced = ~priced
        unpriced_events = int(np.count_nonzero(unpriced))
        unpriced_tokens = int(tokens[unpriced].sum())
        unpriced_codes = {m for m in np.unique(models[unpriced]).tolist() if m >= 0}
    unpriced_models = sorted(projection.models.names[m] for m in unpriced_codes)
    # Every value here is computed from validated events; skipping re-validation keeps a
    # report with thousands of workflows cheap.
    return CostReport.model_construct(
        currency=currency,
        total_cost=total,
        totals_by_currency=dict(sorted(totals.items())),
        cost_by_agent=dict(sorted(by_agent.items())),
        cost_by_model=dict(sorted(by_model.items())),
        cost_by_category=dict(sorted(by_category.items())),
        cost_by_workflow=by_workflow,  # in order of first cost, like the ledger
        workflows=n_wf,
        cost_per_workflow=MoneyMeasure(None if n_wf == 0 else total / n_wf),
        successful_workflows=successful,
        cost_per_successful_workflow=MoneyMeasure(None if successful == 0 else total / successful),
        total_tokens=total_tokens,
        # Tokens of events outside any workflow do not belong to a workflow's average.
        tokens_per_workflow=Measure(None if n_wf == 0 else tokens_in_wf / n_wf),
        priced_events=priced_events,
        unpriced_events=unpriced_events,
        unpriced_tokens=unpriced_tokens,
        unpriced_models=unpriced_models,
        replay_workflows_excluded=excluded_workflows,
        replay_events_excluded=excluded_events,
        budgets=[],
        as_of_offset=projection.position,
    )


def _windowed_sums(
    projection: CostProjection, window: np.ndarray[Any, Any], currency: str
) -> tuple[
    dict[str, Decimal],
    dict[str, Decimal],
    dict[str, Decimal],
    dict[str, Decimal],
    dict[str, Decimal],
]:
    c = projection.costs
    totals: dict[str, Decimal] = {}
    by_agent: dict[str, Decimal] = {}
    by_model: dict[str, Decimal] = {}
    by_category: dict[str, Decimal] = {}
    by_workflow: dict[str, Decimal] = {}
    cur_code = projection.currencies.codes.get(currency, -1)
    agent, model, category, wf, cur = (
        c["agent"],
        c["model"],
        c["category"],
        c["wf"],
        c["currency"],
    )
    for i in np.flatnonzero(window & c["priced"]):
        amount = projection.amounts[i]
        _add(totals, projection.currencies.names[cur[i]], amount)
        if cur[i] != cur_code:
            continue
        if agent[i] >= 0:
            _add(by_agent, projection.agents.names[agent[i]], amount)
        if model[i] >= 0:
            _add(by_model, projection.models.names[model[i]], amount)
        _add(by_category, projection.categories.names[category[i]], amount)
        if wf[i] >= 0:
            _add(by_workflow, projection.workflows.names[wf[i]], amount)
    return totals, by_agent, by_model, by_category, by_workflow


def _totals_without(
    projection: CostProjection, replay: np.ndarray[Any, Any], currency: str
) -> tuple[
    dict[str, Decimal],
    dict[str, Decimal],
    dict[str, Decimal],
    dict[str, Decimal],
    dict[str, Decimal],
]:
    """The all-time sums without the ``replay`` rows: running totals less those rows' sums.

    A key only replay rows had is dropped (as summing the other rows would never make it), a
    key both had keeps its difference, so the result equals summing the production rows.
    """
    projection._catch_up_totals()
    less = _windowed_sums(projection, replay, currency)
    c = projection.costs
    production = ~replay & c["priced"]
    in_currency = production & (c["currency"] == projection.currencies.codes.get(currency, -1))
    present = (
        _present(c["currency"], production, projection.currencies.names),
        _present(c["agent"], in_currency, projection.agents.names),
        _present(c["model"], in_currency, projection.models.names),
        _present(c["category"], in_currency, projection.categories.names),
        _present(c["wf"], in_currency, projection.workflows.names),
    )
    running = (
        projection.totals,
        projection.by_agent.get(currency, {}),
        projection.by_model.get(currency, {}),
        projection.by_category.get(currency, {}),
        projection.by_workflow.get(currency, {}),
    )
    a, b, m, k, w = (
        {key: v - removed.get(key, ZERO) for key, v in sums.items() if key not in removed or key in kept}
        for sums, removed, kept in zip(running, less, present, strict=True)
    )
    return a, b, m, k, w


def _present(codes: np.ndarray[Any, Any], rows: np.ndarray[Any, Any], names: list[str]) -> set[str]:
    """The names whose code occurs in the selected rows (a presence count, no sort)."""
    selected = codes[rows]
    hit = np.bincount(selected[selected >= 0], minlength=len(names)) > 0
    return {names[i] for i in np.flatnonzero(hit)}
