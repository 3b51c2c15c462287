"""``rledger report --html``: the dashboard's data for one moment of a ledger, as one self-contained page.

The file holds what the served pages fetch (the report, the series, breakers and alerts) and the
decision trails of a chosen set of workflows: those named, else the newest failed ones and then
the newest others, up to a count. It opens from ``file://`` and loads nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from reliability.service.dashboard.data import DashboardData
from reliability.service.dashboard.page import report_html
from reliability.service.dashboard.signals import SignalIndex
from reliability.service.documents import dumps, trail_document
from reliability.service.workflows import WorkflowIndex

if TYPE_CHECKING:
    from ledger import Ledger

__all__ = ["choose_workflows", "snapshot", "write_html_report"]


def choose_workflows(index: WorkflowIndex, named: list[str], count: int) -> list[str]:
    """The workflows a report shows: ``named`` (each must exist), else newest failed, then newest."""
    summaries = index.page(0, 2**62, None)
    known = {s.workflow_id for s in summaries}
    missing = [w for w in named if w not in known]
    if missing:
        raise ValueError(f"--workflow {', '.join(missing)}: no such workflow in the ledger")
    if named:
        return list(dict.fromkeys(named))
    newest = list(reversed(summaries))
    failed = [s.workflow_id for s in newest if s.outcome == "failed"]
    others = [s.workflow_id for s in newest if s.outcome != "failed"]
    return (failed + others)[:count]


def snapshot(
    ledger: Ledger, document: dict[str, Any], named: list[str], count: int, generated_at: str
) -> dict[str, Any]:
    """Everything the page shows: ``document`` (the report) with series, signals, workflows and trails."""
    from replay import DecisionTrailBuilder

    data = DashboardData(ledger)
    signals = SignalIndex()
    signals.catch_up(ledger)
    index = WorkflowIndex()
    index.catch_up(ledger)
    chosen = choose_workflows(index, named, count)
    summaries = {s.workflow_id: s for s in index.page(0, 2**62, None)}
    builder = DecisionTrailBuilder(ledger)
    trails = {w: trail_document(builder.build(w)) for w in chosen}
    # Replays of a chosen workflow come along, so its differences can be shown side by side.
    for runs in (signals.replays.get(w, []) for w in chosen):
        for run in runs:
            replay = run["replay_workflow_id"]
            if replay and replay in summaries and replay not in trails:
                trails[replay] = trail_document(builder.build(replay))
    out = {
        "generated_at": generated_at,
        "report": document,
        "series": data.series(),
        "signals": signals.document(),
        "workflows": {
            "workflows": [summaries[w].to_json() for w in chosen],
            "total": len(summaries),
            "as_of_offset": index.position,
        },
        "trails": trails,
        "checkpoints": {
            w: [r.to_json_dict() for r in ledger.read(workflow_id=w, types=["CheckpointMarked"])]
            for w in trails
        },
    }
    # Through the service's JSON encoder: decimals stay exact strings, as the API writes them.
    parsed: dict[str, Any] = orjson.loads(dumps(out))
    return parsed


def _checkpoints(ledger: Ledger, workflow: str) -> list[dict[str, Any]]:
    return [r.to_json_dict() for r in ledger.read(workflow_id=workflow, types=["CheckpointMarked"])]


def write_html_report(path: str, data: dict[str, Any]) -> int:
    """Write the self-contained page to ``path``; return its size in bytes."""
    body = report_html(data).encode()
    with open(path, "wb") as f:
        f.write(body)
    return len(body)
