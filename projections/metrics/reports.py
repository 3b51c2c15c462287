"""Report models: what the facades and ``rledger report`` return, validated and serialisable.

Field names follow the user's guide (``svr``, ``cr``, ``pc``, ``hir``, ``ma``, ``tcl``, ``wct``,
``agent_metrics``, ``mtte_p95_ms``, ``rsr``, ``total_cost`` …). A metric over no observations is
an unmeasured :class:`~projections.metrics.measure.Measure` (prints ``n/a``, equals ``None``, refuses
comparison; ``null`` in JSON) and is listed in ``insufficient_data``; health and compliance judge
only metrics with data.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from projections.metrics.measure import Measure, MoneyMeasure


class MetricTargets(BaseModel):
    """Reliability targets (the guide's values by default); comparisons are strict.

    ``include_replays`` counts replay runs (workflows started with ``replay_of``) in the
    metrics; by default they are production numbers only, and the report says what it left out.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    svr_min: float = 0.95
    cr_max: float = 0.10
    pc_max: float = 2.0
    hir_max: float = 0.05
    ma_min: float = 0.90
    include_replays: bool = False


HEALTH_METRICS = ("svr", "cr", "pc", "hir", "ma")
"""The metrics a health verdict judges, in the order violations are listed."""


def _pct(value: float) -> str:
    return f"{value * 100:g}%"


class AgentMetrics(BaseModel):
    """One agent's share of the metrics."""

    model_config = ConfigDict(frozen=True)

    svr: Measure
    cr: Measure
    ma: Measure
    tcl: Measure
    total_steps: int
    tool_calls: int


class MetricsReport(BaseModel):
    """SVR, CR, PC, HIR, MA, tool latency (TCL) and workflow time (WCT), overall and per agent."""

    model_config = ConfigDict(frozen=True)

    svr: Measure = Field(description="successful steps / steps")
    cr: Measure = Field(description="steps needing compensation / steps")
    pc: Measure = Field(description="mean replans per completed workflow")
    hir: Measure = Field(description="completed workflows needing a human / completed workflows")
    ma: Measure = Field(description="compliant mode observations / mode observations")
    tcl: Measure = Field(description="mean tool latency, ms")
    tcl_p50: Measure = Measure()
    tcl_p95: Measure = Measure()
    tcl_p99: Measure = Measure()
    wct: Measure = Field(description="mean workflow completion time, ms")
    wct_p50: Measure = Measure()
    wct_p95: Measure = Measure()
    wct_p99: Measure = Measure()
    total_steps: int = 0
    total_workflows: int = 0
    tool_calls: int = 0
    mode_observations: int = 0
    replay_workflows_excluded: int = Field(0, description="replay workflows left out of the metrics")
    replay_events_excluded: int = Field(
        0, description="their steps, tool calls, mode observations and completions left out"
    )
    agent_metrics: dict[str, AgentMetrics] = Field(default_factory=dict)
    targets: MetricTargets = Field(default_factory=MetricTargets)
    as_of_offset: int = 0

    @property
    def insufficient_data(self) -> list[str]:
        """The health metrics that have no observations (and so are not judged)."""
        return [n for n in HEALTH_METRICS if not getattr(self, n).measured]

    def get_violations(self) -> list[str]:
        """One readable line per failing metric, in the order SVR, CR, PC, HIR, MA."""
        t = self.targets
        out: list[str] = []
        if self.svr.measured and not self.svr > t.svr_min:
            out.append(f"SVR too low: {self.svr:.2%} (target >{_pct(t.svr_min)})")
        if self.cr.measured and not self.cr < t.cr_max:
            out.append(f"CR too high: {self.cr:.2%} (target <{_pct(t.cr_max)})")
        if self.pc.measured and not self.pc < t.pc_max:
            out.append(f"PC too high: {self.pc:.2f} (target <{t.pc_max:g})")
        if self.hir.measured and not self.hir < t.hir_max:
            out.append(f"HIR too high: {self.hir:.2%} (target <{_pct(t.hir_max)})")
        if self.ma.measured and not self.ma > t.ma_min:
            out.append(f"MA too low: {self.ma:.2%} (target >{_pct(t.ma_min)})")
        return out

    @property
    def health(self) -> bool | None:
        """The verdict: ``None`` when no health metric had data (nothing was judged), else
        whether no metric that has data violates its target."""
        if len(self.insufficient_data) == len(HEALTH_METRICS):
            return None
        return not self.get_violations()

    @property
    def verdict(self) -> str:
        """``HEALTHY``, ``UNHEALTHY``, or ``NO DATA`` when no health metric had data."""
        health = self.health
        return "NO DATA" if health is None else "HEALTHY" if health else "UNHEALTHY"

    def is_healthy(self) -> bool:
        """True when some metric has data and none that has data violates its target.

        A report with no data at all is not healthy (nor unhealthy: :attr:`health` is ``None``).
        """
        return self.health is True


class SLOTargets(BaseModel):
    """SLO targets: MTTE p95 at most 5 minutes, RSR at least 99% (both inclusive).

    ``rsr_modes`` scopes RSR: the replay modes whose attempts count. By default strict and
    simulated replays (reproductions, which should succeed) count and counterfactual ones
    (experiments with changed inputs) do not; ``rsr_by_mode`` lists every mode either way.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    mtte_p95_ms: float = 300_000.0
    rsr_min: float = 0.99
    rsr_modes: tuple[Literal["strict", "simulated", "counterfactual"], ...] = ("strict", "simulated")


class SLOReport(BaseModel):
    """Mean time to explain (over successful explanations) and replay success rate."""

    model_config = ConfigDict(frozen=True)

    mtte_mean_ms: Measure
    mtte_p50_ms: Measure
    mtte_p95_ms: Measure
    mtte_p99_ms: Measure
    explanations: int
    explanation_failures: int
    explanation_failure_rate: Measure
    rsr: Measure = Field(description="successful replays / replays, of the modes in targets.rsr_modes")
    rsr_by_mode: dict[str, Measure]
    replay_attempts: int
    replay_attempts_by_mode: dict[str, int]
    targets: SLOTargets = Field(default_factory=SLOTargets)
    as_of_offset: int = 0

    @property
    def insufficient_data(self) -> list[str]:
        """The SLOs with no observations (and so not judged)."""
        out = []
        if not self.mtte_p95_ms.measured:
            out.append("mtte")
        if not self.rsr.measured:
            out.append("rsr")
        return out

    def is_mtte_compliant(self) -> bool:
        """True when MTTE p95 <= target, or when there is no data to judge."""
        return not self.mtte_p95_ms.measured or self.mtte_p95_ms <= self.targets.mtte_p95_ms

    def is_rsr_compliant(self) -> bool:
        """True when RSR >= target, or when there is no data to judge."""
        return not self.rsr.measured or self.rsr >= self.targets.rsr_min

    def get_violations(self) -> list[str]:
        """One readable line per failing SLO."""
        out = []
        if not self.is_mtte_compliant():
            out.append(
                f"MTTE p95 too slow: {self.mtte_p95_ms / 1000:.1f}s "
                f"(target <={self.targets.mtte_p95_ms / 1000:g}s)"
            )
        if not self.is_rsr_compliant():
            out.append(f"RSR too low: {self.rsr:.2%} (target >={_pct(self.targets.rsr_min)})")
        return out


class BudgetStatus(BaseModel):
    """A budget's spend in its window against its limits."""

    model_config = ConfigDict(frozen=True)

    name: str
    currency: str
    limit: Decimal
    spend: Decimal
    reserved: Decimal
    period_hours: float | None
    within_budget: bool
    breaches: list[str]


class CostReport(BaseModel):
    """Money (exact decimals) and tokens, by agent, model, category and workflow."""

    model_config = ConfigDict(frozen=True)

    currency: str
    total_cost: Decimal
    totals_by_currency: dict[str, Decimal]
    cost_by_agent: dict[str, Decimal]
    cost_by_model: dict[str, Decimal]
    cost_by_category: dict[str, Decimal]
    cost_by_workflow: dict[str, Decimal]
    workflows: int
    cost_per_workflow: MoneyMeasure = Field(description="total / workflows with costs")
    successful_workflows: int
    cost_per_successful_workflow: MoneyMeasure = Field(description="total / successful ones")
    total_tokens: int
    tokens_per_workflow: Measure = Field(description="tokens in workflows / workflows")
    priced_events: int
    unpriced_events: int
    unpriced_tokens: int
    unpriced_models: list[str]
    replay_workflows_excluded: int = Field(0, description="replay workflows whose costs are left out")
    replay_events_excluded: int = Field(0, description="their cost events left out")
    budgets: list[BudgetStatus] = Field(default_factory=list)
    as_of_offset: int = 0
