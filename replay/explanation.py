"""A decision trail explained: outcome, timeline, evidence by grade and unbacked claims, as Markdown."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

from projections.guards import Evidence
from replay.trail import DecisionTrail


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def explain(trail: DecisionTrail) -> str:
    """Return the trail as Markdown: outcome, timeline, evidence by grade, unbacked claims."""
    verdict = "in progress" if trail.success is None else ("succeeded" if trail.success else "FAILED")
    lines = [
        f"# Decision trail: {trail.workflow_id}",
        "",
        f"- **Goal:** {trail.goal or '(none recorded)'}",
        f"- **Inputs:** `{_short(trail.inputs)}`",
        f"- **Outcome:** {verdict} — `{_short(trail.outcome)}`",
        f"- **Duration:** {'unknown' if trail.duration_ms is None else f'{trail.duration_ms:,.0f} ms'}",
        f"- **Steps:** {len(trail.steps)} ({sum(1 for s in trail.steps if not s.success)} failed); "
        f"**tool calls:** {len(trail.tool_calls)}; "
        + (f"**model calls:** {len(trail.model_calls)}; " if trail.model_calls else "")
        + f"**replans:** {len(trail.plan)}",
        f"- **Tokens:** {trail.tokens:,}; **cost:** {trail.cost.normalize():f} USD"
        + (f" (+{trail.unpriced_cost_events} unpriced)" if trail.unpriced_cost_events else ""),
    ]
    if trail.checkpoint:
        lines.append(f"- **Up to checkpoint:** {trail.checkpoint}")
    if trail.plan:
        lines += ["", "## Plan revisions", *[f"{i}. {r}" for i, r in enumerate(trail.plan, 1)]]
    lines += ["", "## Timeline", "", "| offset | what | detail |", "|---|---|---|"]
    for rec in trail.history:
        e = rec.data
        kind = e["type"]
        if kind == "ToolCalled":
            detail = f"`{e['tool']}({_short(e.get('arguments'), 60)})` → " + (
                f"`{_short(e.get('result'), 60)}`"
                if e.get("success", True)
                else f"**error** {e.get('error')}"
            )
        elif kind == "ModelCalled":
            detail = f"model call {e.get('call_index')}: `{e['model']}` → " + (
                f"`{_short(_reply_text(e.get('response')), 60)}`"
                if e.get("success", True)
                else f"**error** {e.get('error')}"
            )
        elif kind == "StepRecorded":
            detail = f"{e['agent']}: {'ok' if e['success'] else 'failed ' + (e.get('error') or '')}"
            mode, declared = e.get("mode"), e.get("declared_mode")
            if mode and declared and mode.lower() != declared.lower():
                detail += f" (mode {mode}, declared {declared})"
        elif kind == "EvidenceCollected":
            detail = f"{e['confidence']} {e['evidence_type']} from {e['source']}"
        elif kind == "CostIncurred":
            what = e.get("model") or e.get("tool") or e.get("category")
            price = (
                f"{Decimal(e['amount']):f} {e.get('currency', 'USD')}"
                if e.get("amount") is not None
                else "unpriced"
            )
            tokens_used = int(e.get("prompt_tokens") or 0) + int(e.get("completion_tokens") or 0)
            detail = f"{what}: {price}, {tokens_used} tokens"
        elif kind in _SHOWN:
            detail = _short({k: v for k, v in e.items() if k in _SHOWN[kind]})
        else:
            detail = ""
        cell = detail.replace("|", "\\|")
        lines.append(f"| {rec.offset} | {kind} | {cell} |")
    for title, items in (
        ("Verified evidence", trail.verified),
        ("Claims", trail.claimed),
        ("Inferences", trail.inferred),
    ):
        lines += ["", f"## {title} ({len(items)})"]
        lines += [f"- {e.type} from {e.source}: `{_short(_content(e), 80)}`" for e in items] or ["- none"]
    unbacked = trail.unbacked_claims
    lines += ["", f"## Claims without verified backing ({len(unbacked)})"]
    lines += [f"- {c.type} from {c.source}: `{_short(_content(c), 80)}`" for c in unbacked] or ["- none"]
    return "\n".join(lines) + "\n"


_SHOWN = {
    "WorkflowStarted": ("goal", "replay_of", "replay_mode"),
    "WorkflowCompleted": ("success", "outcome"),
    "CheckpointMarked": ("checkpoint_id", "label"),
    "StateChanged": ("key", "value"),
    "PlanRevised": ("reason",),
}


def _reply_text(response: Any) -> Any:
    # What a reader wants of a reply: its text, else the tools it asked for (not the raw form).
    if not isinstance(response, dict):
        return response
    calls = response.get("tool_calls") or []
    names = [c.get("name") for c in calls if isinstance(c, dict)]
    return response.get("content") or (f"asks for {', '.join(map(str, names))}" if names else "")


def _content(e: Evidence) -> Any:
    # A redacted item shows its content's hash.
    return e.content_hash if e.redacted else e.content
