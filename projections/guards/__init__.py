"""The guards: mode enforcement, circuit breakers and graded evidence, every verdict an event."""

from projections.guards.breaker_config import (
    BreakerStatus,
    CircuitBreakerConfig,
    CircuitOpenError,
    CircuitState,
)
from projections.guards.breaker_fold import (
    BREAKER_STRUCTS,
    BreakerProjection,
    due_transition,
    half_open_due,
    outcome_transition,
)
from projections.guards.breaker_fold import Core as BreakerCore
from projections.guards.breaker_registry import CircuitBreakerRegistry
from projections.guards.breakers import CircuitBreaker
from projections.guards.evidence import EvidenceCollector, EvidenceError
from projections.guards.evidence_fold import Evidence, EvidenceProjection
from projections.guards.mode_fold import ModeProjection, ModeViolation
from projections.guards.mode_rules import ActionKind, AgentMode, ModeRules, split_words
from projections.guards.modes import ModeEnforcer

__all__ = [
    "BREAKER_STRUCTS",
    "ActionKind",
    "AgentMode",
    "BreakerCore",
    "BreakerProjection",
    "BreakerStatus",
    "CircuitBreaker",
    "CircuitBreakerConfig",
    "CircuitBreakerRegistry",
    "CircuitOpenError",
    "CircuitState",
    "Evidence",
    "EvidenceCollector",
    "EvidenceError",
    "EvidenceProjection",
    "ModeEnforcer",
    "ModeProjection",
    "ModeRules",
    "ModeViolation",
    "due_transition",
    "half_open_due",
    "outcome_transition",
    "split_words",
]
