"""A back-test's text report, made from its JSON so the two always carry the same numbers.

Each component is shown as "what-if" beside "recorded"; money as the exact decimal strings,
ratios to 4 places, ``n/a`` for an unmeasured number (never 0).
"""

from __future__ import annotations

from typing import Any

from replay.backtest.result import BacktestResult


def _n(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    return str(value)


def render_text(result: BacktestResult) -> list[str]:
    """The report as lines of text."""
    data = result.to_json()
    lines = [
        f"Back-test of {data['since'] or 'the beginning'} .. "
        f"{data['until'] or 'now'}: {data['events_scanned']} events scanned "
        f"(through offset {data['through_offset']})",
    ]
    for b in data.get("breakers", []):
        lines += _breaker(b)
    for b in data.get("budgets", []):
        lines += _budget(b)
    if "anomalies" in data:
        lines += _anomalies(data["anomalies"])
    if "alerts" in data:
        lines += _alerts(data["alerts"])
    if "modes" in data:
        lines += _modes(data["modes"])
    if "sweep" in data:
        lines += _sweep(data["sweep"])
    return lines


def _breaker(b: dict[str, Any]) -> list[str]:
    config = b["config"] or "as recorded"
    if isinstance(config, dict):
        config = " ".join(f"{k}={_n(v)}" for k, v in config.items())
    out = [
        "",
        f"Breaker {b['name']} ({'tool calls' if b['source'] == 'tool' else 'recorded breaker'}; {config})",
        f"  calls {b['calls']}; opened {b['opened']} time(s); transitions {len(b['transitions'])} "
        f"(recorded {len(b['recorded_transitions'])}; same as recorded: {_n(b['same_as_recorded'])})",
    ]
    out += [f"    {t['at']}  {t['from']} -> {t['to']}  ({t['reason']})" for t in b["transitions"][:20]]
    if len(b["transitions"]) > 20:
        out.append(f"    … {len(b['transitions']) - 20} more (--format json lists them all)")
    out += [
        f"  refused {b['refused']}: failures avoided {b['failures_avoided']} "
        f"(latency saved {_n(b['latency_saved_ms'])} ms, cost saved {b['cost_saved']}), "
        f"useful calls lost {b['useful_lost']}, refused in reality too {b['refused_anyway']}",
        f"  refused in reality {b['recorded_rejections']}; of those it would have let through "
        f"{b['let_through_unknown']} (outcome unknown)",
        f"  outages (>= 3 consecutive failures) {b['outages']}: detected {b['outages_detected']}, "
        f"mean time to open {_n(b['mean_detect_seconds'])} s",
    ]
    return out


def _budget(b: dict[str, Any]) -> list[str]:
    limits = b["budget"]
    shown = (
        "as recorded"
        if limits is None
        else f"limit {limits['total_limit']} per {_n(limits['period_hours'])} h"
    )
    out = [
        "",
        f"Budget {b['name']} ({shown})",
        f"  exceeded {len(b['breaches'])} time(s), first at {_n(b['first_exceeded'])} "
        f"(recorded {len(b['recorded_breaches'])}; same as recorded: {_n(b['same_as_recorded'])})",
    ]
    out += [
        f"    {x['at']}  {x['scope']}: spend {x['spend']} > limit {x['limit']}" for x in b["breaches"][:20]
    ]
    out.append(
        f"  enforced: refused {b['refused_costs']} cost(s), {b['refused_spend']}; "
        f"workflows stopped {b['workflows_stopped']} (succeeded in reality {b['stopped_succeeded']}, "
        f"failed {b['stopped_failed']})"
    )
    return out


def _score(label: str, s: dict[str, Any]) -> str:
    return (
        f"  {label}: incidents {s['incidents']}, detected {s['incidents_detected']}; precision "
        f"{_n(s['precision'])}, recall {_n(s['recall'])}, mean delay {_n(s['mean_delay_seconds'])} s"
    )


def _anomalies(a: dict[str, Any]) -> list[str]:
    r = a["rules"]
    out = [
        "",
        f"Anomalies (z > {_n(r['z'])}, baseline {r['min_baseline']}..{r['baseline_size']}, "
        f"{len(r['thresholds'])} threshold(s)): {a['anomalies']} over {a['values']} values "
        f"(recorded {a['recorded_anomalies']}; new {a['new']}, gone {a['gone']}; same as recorded: "
        f"{_n(a['same_as_recorded'])})",
    ]
    out += [f"    {m}: {n}" for m, n in a["by_metric"].items()]
    out += [_score("what-if", a["score"]), _score("recorded", a["recorded_score"])]
    return out


def _alerts(a: dict[str, Any]) -> list[str]:
    out = [
        "",
        f"Alerts (cooldown {_n(a['cooldown_seconds'])} s, min severity {_n(a['min_severity'])}): "
        f"raised {a['raised']}, delivered {a['delivered']} (recorded {a['recorded_delivered']}), "
        f"suppressed {a['suppressed']} (recorded {a['recorded_suppressed']}), below severity "
        f"{a['below_severity']}; same as recorded: {_n(a['same_as_recorded'])}",
    ]
    for channel, n in a["per_channel"].items():
        out.append(
            f"    {channel}: {n} page(s), {_n(a['pages_per_day'][channel])}/day "
            f"(recorded {a['recorded_per_channel'][channel]}, {_n(a['recorded_pages_per_day'][channel])}/day)"
        )
    return out


def _modes(m: dict[str, Any]) -> list[str]:
    modes = ", ".join(f"{a}={v}" for a, v in m["modes"].items()) or "as recorded"
    out = [
        "",
        f"Modes ({modes}): re-decided {m['checked']} checked action(s): newly denied "
        f"{m['newly_denied']}, newly allowed {m['newly_allowed']}, denied {m['denied']}",
        f"  MA {_n(m['ma'])} (recorded {_n(m['recorded_ma'])})",
    ]
    out += [f"    denied {d['action']}: {d['count']}" for d in m["denied_actions"]]
    out += [
        f"  tool calls of {agent} its mode would deny: {n} of {m['tool_calls'][agent]}"
        for agent, n in m["tool_calls_denied"].items()
    ]
    return out


def _sweep(s: dict[str, Any]) -> list[str]:
    rows = s["rows"]
    if not rows:
        return []
    keys = [k for k in rows[0] if k != "value"]
    header = [s["parameter"], *(k.rsplit(".", 1)[-1] for k in keys)]
    table = [header] + [[_n(r["value"]), *(_n(r[k]) for k in keys)] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    out = ["", f"Sweep of {s['parameter']} ({len(rows)} values, one scan)"]
    out += ["  " + "  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in table]
    return out
