"""Replay: workflow histories, decision trails, and strict, simulated and counterfactual re-runs."""

from replay.asof import state_as_of
from replay.backtest import (
    AlertSetting,
    AnomalySetting,
    BacktestConfig,
    BacktestError,
    BacktestResult,
    BreakerSetting,
    BudgetSetting,
    Incident,
    ModeSetting,
    Sweep,
    backtest_config,
    record_backtest,
    run_backtest,
)
from replay.backtest import render_text as render_backtest
from replay.builder import DecisionTrailBuilder
from replay.context import Orchestrator, RunContext, new_workflow_id, run_workflow
from replay.explanation import explain
from replay.history import CheckpointNotFoundError, History, WorkflowNotFoundError
from replay.model_calls import PendingModelCall
from replay.model_tape import ModelChange
from replay.models import ModelCallError, ModelReply, ModelRequest
from replay.redacted import NotComparable
from replay.replayer import Replayer
from replay.result import Difference, ReplayDivergedError, ReplayMode, ReplayResult
from replay.tape import NotOnTapeError
from replay.tools import ToolError, ToolRegistry, UnknownToolError
from replay.trail import DecisionTrail, ModelCallRecord, StepRecord, ToolCallRecord, build_trail
from replay.values import NotReplayableValueError, from_json_value, register_value_kind, to_json_value

__all__ = [
    "AlertSetting",
    "AnomalySetting",
    "BacktestConfig",
    "BacktestError",
    "BacktestResult",
    "BreakerSetting",
    "BudgetSetting",
    "CheckpointNotFoundError",
    "DecisionTrail",
    "DecisionTrailBuilder",
    "Difference",
    "History",
    "Incident",
    "ModeSetting",
    "ModelCallError",
    "ModelCallRecord",
    "ModelChange",
    "ModelReply",
    "ModelRequest",
    "NotComparable",
    "NotOnTapeError",
    "NotReplayableValueError",
    "Orchestrator",
    "PendingModelCall",
    "ReplayDivergedError",
    "ReplayMode",
    "ReplayResult",
    "Replayer",
    "RunContext",
    "StepRecord",
    "Sweep",
    "ToolCallRecord",
    "ToolError",
    "ToolRegistry",
    "UnknownToolError",
    "WorkflowNotFoundError",
    "backtest_config",
    "build_trail",
    "explain",
    "from_json_value",
    "new_workflow_id",
    "record_backtest",
    "register_value_kind",
    "render_backtest",
    "run_backtest",
    "run_workflow",
    "state_as_of",
    "to_json_value",
]
