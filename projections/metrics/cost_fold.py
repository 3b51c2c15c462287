"""The cost projection: exact spend by agent, model, category and workflow, and budget state.

Money is summed as ``Decimal`` — never floats. All-time totals are kept as running sums so the
current report is instant; a time window sums the matching events. Budget reservations are
folded from their own stream per budget, whose length doubles as its optimistic-concurrency
version.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

import msgspec
import numpy as np

from projections.fold.columns import Interner, Table, window_mask
from projections.fold.projection import Arrays, Handler, Projection, iso_to_us
from projections.metrics.cost_report import cost_report
from projections.metrics.cost_totals import catch_up_totals
from projections.metrics.event_fields import (
    BreachFields,
    CompletionFields,
    CostFields,
    ReleasedFields,
    ReservedFields,
    StartFields,
)
from projections.metrics.reports import CostReport
from projections.metrics.spend_index import AGENT, CATEGORY, TOTAL, Key, SpendIndex

ZERO = Decimal(0)


@dataclass(frozen=True)
class OutstandingReservation:
    """A reservation as the fold holds it until released (a caller is granted a ``budgets.Reservation``)."""

    reservation_id: str
    budget: str
    amount: Decimal
    currency: str
    category: str | None
    agent: str | None
    expires_us: int | None


class CostProjection(Projection):
    """Columnar cost events plus running Decimal totals, workflow outcomes and reservations."""

    name = "costs"
    version = 3  # 2: all-time totals are derived, no longer stored; 3: replay workflows marked
    structs: ClassVar[dict[str, type[msgspec.Struct]]] = {
        "CostIncurred": CostFields,
        "WorkflowCompleted": CompletionFields,
        "WorkflowStarted": StartFields,
        "BudgetReserved": ReservedFields,
        "BudgetReservationReleased": ReleasedFields,
        "BudgetBreached": BreachFields,
    }

    def __init__(self) -> None:
        super().__init__()
        self.agents = Interner()
        self.models = Interner()
        self.categories = Interner()
        self.workflows = Interner()
        self.currencies = Interner()
        self.costs = Table(
            {
                "t": np.int64,
                "agent": np.int32,
                "model": np.int32,
                "category": np.int32,
                "wf": np.int32,
                "currency": np.int32,
                "priced": np.bool_,
                "tokens": np.int64,
            }
        )
        self.amounts: list[Decimal] = []  # ZERO for unpriced events; see the "priced" column
        self.wf_success: list[int] = []  # by workflow code: -1 not completed, 0 failed, 1 succeeded
        self.wf_replay: list[bool] = []  # by workflow code: a replay run (WorkflowStarted.replay_of)
        self.replay_workflows = 0  # how many are True: a report asks "any?" without a scan
        self.reservations: dict[str, OutstandingReservation] = {}
        self.budget_versions: dict[str, int] = {}
        self._success: tuple[int, np.ndarray[Any, Any]] | None = None  # (changes, array) cache
        self._success_changes = 0
        self._reset_derived()

    def _reset_derived(self) -> None:
        """Forget the running totals and counts; the next report derives them from every row."""
        # Running all-time totals (currency -> key -> amount) and counts for the unwindowed
        # report, derived from the rows (see _catch_up_totals): a report then costs
        # O(workflows), not O(cost rows). Rows [0, _totals_upto) are in them; -1: unknown.
        self._totals_upto = 0
        self.totals: dict[str, Decimal] = {}
        self.by_agent: dict[str, dict[str, Decimal]] = {}
        self.by_model: dict[str, dict[str, Decimal]] = {}
        self.by_category: dict[str, dict[str, Decimal]] = {}
        self.by_workflow: dict[str, dict[str, Decimal]] = {}
        self._wf_has_cost = np.zeros(0, dtype=bool)
        self._tokens = 0
        self._tokens_in_wf = 0
        self._priced_events = 0
        self._unpriced_tokens = 0
        self._unpriced_models: set[int] = set()
        self.spend_index = SpendIndex()

    def _handlers(self) -> dict[str, Handler]:
        return {
            "CostIncurred": self._cost,
            "WorkflowCompleted": self._completed,
            "WorkflowStarted": self._started,
            "BudgetReserved": self._reserved,
            "BudgetReservationReleased": self._released,
            "BudgetBreached": self._budget_event,
        }

    def _cost(self, t: int, e: CostFields) -> None:
        priced = e.status == "priced"
        raw = e.amount
        amount = Decimal(raw) if priced and raw is not None else ZERO
        agent = e.agent
        model = e.model
        wf = e.workflow_id
        # Known names are looked up inline (a method call per look-up was a tenth of this
        # handler's time in a rebuild); new ones go through the interners.
        a = -1 if agent is None else self.agents.codes.get(agent)
        if a is None:
            a = self.agents.code(agent)  # type: ignore[arg-type]
        m = -1 if model is None else self.models.codes.get(model)
        if m is None:
            m = self.models.code(model)  # type: ignore[arg-type]
        w = -1 if wf is None else self.workflows.codes.get(wf)
        if w is None:
            w = self._workflow(wf)  # type: ignore[arg-type]
        self.costs.add(
            t,
            a,
            m,
            self.categories.code(e.category or "llm"),
            w,
            self.currencies.code(e.currency or "USD"),
            priced,
            (e.prompt_tokens or 0) + (e.completion_tokens or 0),
        )
        self.amounts.append(amount)

    def _catch_up_totals(self) -> None:
        """Add the cost rows folded since the last report to the running all-time totals."""
        catch_up_totals(self)

    def _succeeded(self) -> np.ndarray[Any, Any]:
        """``wf_success == 1`` by workflow code, as an array (rebuilt only when it changed)."""
        cached = self._success
        if cached is None or cached[0] != self._success_changes:
            cached = self._success_changes, np.asarray(self.wf_success, dtype=np.int8) == 1
            self._success = cached
        return cached[1]

    def _workflow(self, workflow_id: str) -> int:
        code = self.workflows.code(workflow_id)
        if code == len(self.wf_success):
            self.wf_success.append(-1)
            self.wf_replay.append(False)
            self._success_changes += 1
        return code

    def _started(self, t: int, e: StartFields) -> None:
        if e.workflow_id is not None and e.replay_of is not None:
            code = self._workflow(e.workflow_id)
            if not self.wf_replay[code]:
                self.wf_replay[code] = True
                self.replay_workflows += 1

    def _completed(self, t: int, e: CompletionFields) -> None:
        wf = e.workflow_id
        if wf is not None:
            code = self._workflow(wf)
            self.wf_success[code] = 1 if e.success else 0
            self._success_changes += 1

    def _budget_event(self, t: int, e: ReservedFields | ReleasedFields | BreachFields) -> None:
        budget = e.budget
        self.budget_versions[budget] = self.budget_versions.get(budget, 0) + 1

    def _reserved(self, t: int, e: ReservedFields) -> None:
        self._budget_event(t, e)
        expires = e.expires_at
        self.reservations[e.reservation_id] = OutstandingReservation(
            reservation_id=e.reservation_id,
            budget=e.budget,
            amount=Decimal(e.amount),
            currency=e.currency or "USD",
            category=e.category,
            agent=e.agent,
            expires_us=None if expires is None else iso_to_us(expires),
        )

    def _released(self, t: int, e: ReleasedFields) -> None:
        self._budget_event(t, e)
        self.reservations.pop(e.reservation_id, None)

    # -- state --------------------------------------------------------------------------------

    def dump(self) -> tuple[dict[str, Any], Arrays]:
        """Return the state as metadata and arrays."""
        meta = {
            "agents": self.agents.names,
            "models": self.models.names,
            "categories": self.categories.names,
            "workflows": self.workflows.names,
            "currencies": self.currencies.names,
            "amounts": [str(a) for a in self.amounts],
            "wf_success": self.wf_success,
            "wf_replay": self.wf_replay,
            "reservations": [
                [
                    r.reservation_id,
                    r.budget,
                    str(r.amount),
                    r.currency,
                    r.category,
                    r.agent,
                    r.expires_us,
                ]
                for r in self.reservations.values()
            ],
            "budget_versions": self.budget_versions,
        }
        return meta, self.costs.dump("costs")

    def load(self, meta: dict[str, Any], arrays: Arrays) -> None:
        """Restore the state from :meth:`dump`."""
        self.agents = Interner(meta["agents"])
        self.models = Interner(meta["models"])
        self.categories = Interner(meta["categories"])
        self.workflows = Interner(meta["workflows"])
        self.currencies = Interner(meta["currencies"])
        self.costs.load("costs", arrays)
        self.amounts = [Decimal(a) for a in meta["amounts"]]
        self.wf_success = [int(v) for v in meta["wf_success"]]
        self.wf_replay = [bool(v) for v in meta["wf_replay"]]
        self.replay_workflows = sum(self.wf_replay)
        self._success, self._success_changes = None, self._success_changes + 1
        self._reset_derived()
        self.reservations = {
            r[0]: OutstandingReservation(r[0], r[1], Decimal(r[2]), r[3], r[4], r[5], r[6])
            for r in meta["reservations"]
        }
        self.budget_versions = dict(meta["budget_versions"])

    # -- queries ------------------------------------------------------------------------------

    def spend(
        self,
        *,
        currency: str = "USD",
        since_us: int | None = None,
        until_us: int | None = None,
        category: str | None = None,
        agent: str | None = None,
    ) -> Decimal:
        """Return exact priced spend in ``[since, until)``, optionally for one category or agent.

        Read from the time-bucketed index (:mod:`projections.metrics.spend_index`): the cost is
        the number of buckets in the window, not of cost rows.
        """
        code = self.currencies.codes.get(currency)
        if code is None:
            return ZERO
        key: Key = (code, TOTAL, 0)
        if category is not None:
            scope = self.categories.codes.get(category)
            if scope is None:
                return ZERO
            key = (code, CATEGORY, scope)
        if agent is not None:
            scope = self.agents.codes.get(agent)
            if scope is None:
                return ZERO
            if category is not None:
                return self._spend_by_scan(code, since_us, until_us, key[2], scope)
            key = (code, AGENT, scope)
        return self.spend_index.spend(self, key, since_us, until_us)

    def _spend_by_scan(
        self, currency: int, since_us: int | None, until_us: int | None, category: int, agent: int
    ) -> Decimal:
        """Spend of one category by one agent (no bucket holds that pair): a scan of the rows."""
        c = self.costs
        mask = c["priced"] & (c["currency"] == currency) & (c["category"] == category) & (c["agent"] == agent)
        window = window_mask(c["t"], since_us, until_us)
        if window is not None:
            mask &= window
        amounts = self.amounts
        return sum((amounts[i] for i in np.flatnonzero(mask)), ZERO)

    def reserved(
        self, budget: str, *, now_us: int, category: str | None = None, agent: str | None = None
    ) -> Decimal:
        """Return the outstanding, unexpired reservations against ``budget``."""
        total = ZERO
        for r in self.reservations.values():
            if r.budget != budget or (r.expires_us is not None and r.expires_us <= now_us):
                continue
            if category is not None and r.category != category:
                continue
            if agent is not None and r.agent != agent:
                continue
            total += r.amount
        return total

    def report(
        self,
        *,
        currency: str = "USD",
        since_us: int | None = None,
        until_us: int | None = None,
        include_replays: bool = False,
    ) -> CostReport:
        """Compute the cost report over ``[since, until)`` in ``currency`` (replays left out by default)."""
        return cost_report(
            self, currency=currency, since_us=since_us, until_us=until_us, include_replays=include_replays
        )
