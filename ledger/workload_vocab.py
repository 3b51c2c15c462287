"""The workload generator's simulated world: clock start, models and prices, agents, tools, words."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal
from statistics import NormalDist

DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)
"""Where the simulated clock starts unless told otherwise."""

PRICE_VERSION = "2026-01-01"
"""The price table version stamped on priced costs."""

PRICES: dict[str, tuple[Decimal, Decimal, Decimal]] = {
    "gpt-4o-mini": (Decimal("0.15"), Decimal("0.60"), Decimal("0.075")),
    "gpt-4o": (Decimal("2.50"), Decimal("10.00"), Decimal("1.25")),
    "claude-3-5-sonnet": (Decimal("3.00"), Decimal("15.00"), Decimal("0.30")),
    "gpt-4": (Decimal("30.00"), Decimal("60.00"), Decimal("30.00")),
}
"""USD per million tokens: (prompt, completion, cached prompt)."""

UNPRICED_MODEL = "local-llama-3.1-70b"
"""A model with no price: its costs are recorded as unpriced (amount ``None``)."""

MODELS = (*PRICES, UNPRICED_MODEL)
MODEL_TABLE = tuple(MODELS[i] for i, share in enumerate((40, 25, 20, 5, 10)) for _ in range(share))
"""One model per percent of LLM calls (10 % go to the unpriced model)."""
KIND_TABLE = tuple(
    kind
    for kind, share in (("step", 34), ("tool", 28), ("cost", 20), ("evidence", 15), ("replan", 3))
    for _ in range(share)
)
"""One kind per percent of the events between a workflow's start and its completion."""
AGENTS = ("planner", "researcher", "coder", "reviewer", "executor", "summariser", "router")
MODES = ("plan", "research", "write", "review", "execute", "read_only")
TOOLS = (
    ("web_search", 350.0),
    ("vector_lookup", 40.0),
    ("sql_query", 90.0),
    ("http_get", 220.0),
    ("python_exec", 600.0),
    ("file_read", 8.0),
    ("send_email", 400.0),
)
ACTIONS = ("write_file", "send_email", "delete_record", "deploy")
ERRORS = ("timeout", "rate_limited", "tool_error: bad arguments", "validation_failed", "http 503")
EVIDENCE_TYPES = ("document", "web_page", "tool_output", "database_row", "user_statement")
MICRO = Decimal("0.00000001")
MILLION = Decimal(1_000_000)

WORDS = [
    "the",
    "agent",
    "retrieved",
    "policy",
    "customer",
    "order",
    "refund",
    "invoice",
    "shipment",
    "ticket",
    "status",
    "pending",
    "approved",
    "rejected",
    "because",
    "according",
    "to",
    "record",
    "shows",
    "total",
    "amount",
    "account",
    "region",
    "date",
    "priority",
    "escalation",
    "summary",
    "result",
    "found",
    "matching",
    "entries",
    "latency",
    "error",
    "retry",
    "plan",
    "step",
    "source",
    "verified",
    "claim",
    "inferred",
    "evidence",
    "model",
    "prompt",
    "token",
    "budget",
    "tool",
    "call",
    "response",
]
TEXT = " ".join(random.Random(20260101).choices(WORDS, k=2000))
"""A fixed text corpus; payload strings are slices of it (cheap and deterministic)."""

Z = tuple(NormalDist().inv_cdf((i + 0.5) / 1024) for i in range(1024))
"""Standard normal quantiles: ``exp(mu + sigma * z)`` draws a log-normal value in one lookup
(``random.lognormvariate`` is several times slower)."""
