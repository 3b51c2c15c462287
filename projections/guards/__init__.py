"""The guards: mode enforcement, circuit breakers and graded evidence, every verdict an event."""

from projections.guards.breaker_fold import (
    BreakerProjection,
    CircuitBreakerConfig,
    CircuitState,
    half_open_due,
)
from projections.guards.breakers import (
    BreakerStatus,
    CircuitBreaker,
    CircuitBreakerRegistry,
    CircuitOpenError,
)
from projections.guards.evidence import Evidence, EvidenceCollector, EvidenceError, EvidenceProjection
from projections.guards.mode_rules import ActionKind, AgentMode, ModeRules, split_words
from projections.guards.modes import ModeEnforcer, ModeProjection, ModeViolation

__all__ = [
    "ActionKind",
    "AgentMode",
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
    "half_open_due",
    "split_words",
]
