"""Replay: workflow histories, decision trails, and strict, simulated and counterfactual re-runs."""

from replay.asof import state_as_of
from replay.context import (
    Orchestrator,
    RunContext,
    ToolError,
    ToolRegistry,
    UnknownToolError,
    new_workflow_id,
    run_workflow,
)
from replay.history import CheckpointNotFoundError, History, WorkflowNotFoundError
from replay.replayer import (
    Difference,
    NotOnTapeError,
    ReplayDivergedError,
    Replayer,
    ReplayMode,
    ReplayResult,
)
from replay.trail import (
    DecisionTrail,
    DecisionTrailBuilder,
    Evidence,
    StepRecord,
    ToolCallRecord,
    build_trail,
    explain,
)

__all__ = [
    "CheckpointNotFoundError",
    "DecisionTrail",
    "DecisionTrailBuilder",
    "Difference",
    "Evidence",
    "History",
    "NotOnTapeError",
    "Orchestrator",
    "ReplayDivergedError",
    "ReplayMode",
    "ReplayResult",
    "Replayer",
    "RunContext",
    "StepRecord",
    "ToolCallRecord",
    "ToolError",
    "ToolRegistry",
    "UnknownToolError",
    "WorkflowNotFoundError",
    "build_trail",
    "explain",
    "new_workflow_id",
    "run_workflow",
    "state_as_of",
]
