"""Plain-text rendering of reports (for ``rledger report`` and ``rledger demo``); no I/O here."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from projections.metrics.measure import Measure
from projections.metrics.reports import CostReport, MetricsReport, SLOReport


def table(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> str:
    """Return rows as an aligned text table with a header rule."""
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _missing(value: float | None) -> bool:
    # An unmeasured Measure is not None but says so.
    return value is None or (isinstance(value, Measure) and not value.measured)


def _pct(value: float | None) -> str:
    return "no data" if _missing(value) else f"{value:.2%}"


def _ms(value: float | None) -> str:
    # Sub-10 ms values (an explanation, a cached tool call) keep a decimal: "0 ms" would read as
    # "nothing measured" or "free".
    if value is None or _missing(value):
        return "no data"
    if abs(value) >= 10:
        return f"{value:,.0f} ms"
    return f"{value:.2g} ms" if 0 < abs(value) < 0.1 else f"{value:.1f} ms"


def format_amount(value: Decimal, *, sign: bool = False) -> str:
    """An amount for people: 4 decimal places, but never a non-zero amount shown as zero.

    JSON keeps the exact string; this is only for text. An amount under 0.0001 (a cheap model's
    call costs millionths) keeps two significant digits instead: ``0.000039``, not ``0.0000``.
    """
    places = 4
    if value != 0 and abs(value) < Decimal("0.0001"):
        exponent = value.normalize().as_tuple().exponent
        digits = -exponent if isinstance(exponent, int) else places
        places = min(digits, 1 - value.adjusted())
    return format(value, f"{'+' if sign else ''},.{places}f")


def _money(value: Decimal | None, currency: str) -> str:
    # An unmeasured quotient (a MoneyMeasure) equals None.
    return "no data" if value == None else f"{format_amount(value)} {currency}"  # noqa: E711


def _verdict(value: float | None, ok: bool) -> str:
    return "no data" if _missing(value) else ("ok" if ok else "VIOLATION")


def _replays(workflows: int, events: int) -> str:
    return f"(replays excluded: {workflows} workflows, {events} events; production numbers only)"


def render_metrics(r: MetricsReport) -> str:
    """Return the reliability metrics, their targets and verdicts, and the per-agent table."""
    t = r.targets
    rows = [
        ("SVR", _pct(r.svr), f">{t.svr_min:.0%}", _verdict(r.svr, not r.svr.measured or r.svr > t.svr_min)),
        ("CR", _pct(r.cr), f"<{t.cr_max:.0%}", _verdict(r.cr, not r.cr.measured or r.cr < t.cr_max)),
        (
            "PC",
            "no data" if not r.pc.measured else f"{r.pc:.2f}",
            f"<{t.pc_max:g}",
            _verdict(r.pc, not r.pc.measured or r.pc < t.pc_max),
        ),
        ("HIR", _pct(r.hir), f"<{t.hir_max:.0%}", _verdict(r.hir, not r.hir.measured or r.hir < t.hir_max)),
        ("MA", _pct(r.ma), f">{t.ma_min:.0%}", _verdict(r.ma, not r.ma.measured or r.ma > t.ma_min)),
    ]
    out = [
        f"Reliability — {r.total_steps} steps, {r.total_workflows} completed workflows, "
        f"as of offset {r.as_of_offset}",
        table(rows, ("metric", "value", "target", "verdict")),
        "",
        f"Tool latency (TCL): mean {_ms(r.tcl)}, p50 {_ms(r.tcl_p50)}, p95 {_ms(r.tcl_p95)}, "
        f"p99 {_ms(r.tcl_p99)} over {r.tool_calls} calls",
        f"Workflow time (WCT): mean {_ms(r.wct)}, p50 {_ms(r.wct_p50)}, p95 {_ms(r.wct_p95)}, "
        f"p99 {_ms(r.wct_p99)}",
        f"Health: {r.verdict}",
    ]
    out += [f"  - {v}" for v in r.get_violations()]
    if r.insufficient_data:
        out.append(f"  (no data: {', '.join(m.upper() for m in r.insufficient_data)})")
    if r.replay_workflows_excluded:
        out.append(_replays(r.replay_workflows_excluded, r.replay_events_excluded))
    if r.agent_metrics:
        out += [
            "",
            table(
                [
                    (name, a.total_steps, _pct(a.svr), _pct(a.cr), _pct(a.ma), _ms(a.tcl))
                    for name, a in r.agent_metrics.items()
                ],
                ("agent", "steps", "SVR", "CR", "MA", "TCL"),
            ),
        ]
    return "\n".join(out)


def render_slo(r: SLOReport) -> str:
    """Return MTTE and RSR with their compliance."""
    t = r.targets
    mtte = (
        "no data"
        if not r.mtte_p95_ms.measured
        else _ms(float(r.mtte_p95_ms))
        if r.mtte_p95_ms < 1000
        else f"{r.mtte_p95_ms / 1000:.3f}s"
    )
    rsr = _pct(r.rsr)
    lines = [
        "SLOs",
        f"  MTTE p95 {mtte} (target <= {t.mtte_p95_ms / 1000:g}s): "
        f"{'compliant' if r.is_mtte_compliant() else 'VIOLATION'}"
        f"{' (no data)' if not r.mtte_p95_ms.measured else ''}; mean {_ms(r.mtte_mean_ms)}, "
        f"p50 {_ms(r.mtte_p50_ms)}, p99 {_ms(r.mtte_p99_ms)}; "
        f"{r.explanations} explanations, {r.explanation_failures} failed",
        f"  RSR {rsr} (target >= {t.rsr_min:.0%}): "
        f"{'compliant' if r.is_rsr_compliant() else 'VIOLATION'}"
        f"{' (no data)' if not r.rsr.measured else ''}; over "
        f"{sum(r.replay_attempts_by_mode.get(m, 0) for m in t.rsr_modes)} {'/'.join(t.rsr_modes)} "
        f"replay(s) of {r.replay_attempts} ("
        + ", ".join(
            f"{mode} {_pct(r.rsr_by_mode[mode])} of {r.replay_attempts_by_mode[mode]}"
            + ("" if mode in t.rsr_modes else ", not counted")
            for mode in r.rsr_by_mode
        )
        + ")",
    ]
    return "\n".join(lines)


def render_costs(r: CostReport) -> str:
    """Return totals, per-model and per-agent spend, unpriced usage and budgets."""
    c = r.currency
    lines = [
        f"Costs — {r.priced_events} priced, {r.unpriced_events} unpriced events",
        f"  total {_money(r.total_cost, c)}; per workflow {_money(r.cost_per_workflow, c)} "
        f"over {r.workflows}; per successful workflow {_money(r.cost_per_successful_workflow, c)} "
        f"over {r.successful_workflows}",
        f"  tokens {r.total_tokens:,}; per workflow "
        f"{f'{r.tokens_per_workflow:,.0f}' if r.tokens_per_workflow.measured else 'no data'}",
    ]
    if r.replay_workflows_excluded:
        lines.append("  " + _replays(r.replay_workflows_excluded, r.replay_events_excluded))
    if r.unpriced_events:
        lines.append(
            f"  unpriced: {r.unpriced_tokens:,} tokens of {', '.join(r.unpriced_models) or '?'} "
            "(cost unknown; add a price to count them)"
        )
    for cur, total in r.totals_by_currency.items():
        if cur != c:
            lines.append(f"  also spent {_money(total, cur)}")
    if r.cost_by_model:
        lines += ["", table([(m, _money(v, c)) for m, v in r.cost_by_model.items()], ("model", "cost"))]
    if r.cost_by_agent:
        lines += ["", table([(a, _money(v, c)) for a, v in r.cost_by_agent.items()], ("agent", "cost"))]
    if r.budgets:
        lines += [
            "",
            table(
                [
                    (
                        b.name,
                        _money(b.spend, b.currency),
                        _money(b.reserved, b.currency),
                        _money(b.limit, b.currency),
                        "all time" if b.period_hours is None else f"{b.period_hours:g}h",
                        "within" if b.within_budget else "EXCEEDED: " + "; ".join(b.breaches),
                    )
                    for b in r.budgets
                ],
                ("budget", "spend", "reserved", "limit", "window", "state"),
            ),
        ]
    return "\n".join(lines)
