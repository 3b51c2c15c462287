"""The cost projection's running all-time totals and counts, caught up from its rows when a report asks."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from projections.metrics.cost_fold import CostProjection

ZERO = Decimal(0)


def _add(totals: dict[str, Decimal], key: str, amount: Decimal) -> None:
    totals[key] = totals.get(key, ZERO) + amount


def catch_up_totals(projection: CostProjection) -> None:
    """Add the cost rows folded since the last report to the running all-time totals.

    Totals are derived, not folded: a rebuild only appends rows, and the sums are kept
    up to date when a report asks (O(new rows) per report).
    """
    done = projection._totals_upto
    if done < 0:
        # An earlier catch-up was interrupted (Ctrl-C) midway: what it added is unknown.
        projection._reset_derived()
        done = 0
    amounts = projection.amounts
    if done == len(amounts):
        return
    projection._totals_upto = -1  # until every sum and count below is in
    c = projection.costs
    agent, model, category, wf, cur, priced = (
        c["agent"][done:].tolist(),
        c["model"][done:].tolist(),
        c["category"][done:].tolist(),
        c["wf"][done:].tolist(),
        c["currency"][done:].tolist(),
        c["priced"][done:].tolist(),
    )
    agents, models, categories = projection.agents.names, projection.models.names, projection.categories.names
    workflows, currencies = projection.workflows.names, projection.currencies.names
    _count_rows(projection, done)
    for i, amount in enumerate(amounts[done:]):
        if not priced[i]:
            continue
        currency = currencies[cur[i]]
        _add(projection.totals, currency, amount)
        if agent[i] >= 0:
            _add(projection.by_agent.setdefault(currency, {}), agents[agent[i]], amount)
        if model[i] >= 0:
            _add(projection.by_model.setdefault(currency, {}), models[model[i]], amount)
        _add(projection.by_category.setdefault(currency, {}), categories[category[i]], amount)
        if wf[i] >= 0:
            _add(projection.by_workflow.setdefault(currency, {}), workflows[wf[i]], amount)
    projection._totals_upto = len(amounts)


def _count_rows(projection: CostProjection, done: int) -> None:
    """Add the cost rows from ``done`` on to the running counts (numpy, no Python loop)."""
    c = projection.costs
    wf, tokens, priced, models = c["wf"][done:], c["tokens"][done:], c["priced"][done:], c["model"][done:]
    in_wf = wf >= 0
    if len(projection._wf_has_cost) < len(projection.wf_success):
        grown = np.zeros(len(projection.wf_success), dtype=bool)
        grown[: len(projection._wf_has_cost)] = projection._wf_has_cost
        projection._wf_has_cost = grown
    projection._wf_has_cost[wf[in_wf]] = True
    unpriced = ~priced
    projection._tokens += int(tokens.sum())
    projection._tokens_in_wf += int(tokens[in_wf].sum())
    projection._priced_events += int(np.count_nonzero(priced))
    projection._unpriced_tokens += int(tokens[unpriced].sum())
    projection._unpriced_models.update(m for m in np.unique(models[unpriced]).tolist() if m >= 0)
