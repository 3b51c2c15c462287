"""OpenAI Agents SDK runs recorded on the ledger and replayed offline (extra: ``[openai-agents]``).

:class:`AgentsSDKRun` is an orchestrator: it runs a starting agent with every model call going
through :class:`RecordedModel` (``ctx.call_model``: on the tape) and every function tool through
``ctx.call_tool``, and maps the SDK's spans to ledger events with :class:`LedgerTracingProcessor`
(agents → steps, handoffs → ``StateChanged`` of ``active_agent``, guardrails → steps; a tripped
guardrail is a failed step whose error is the guardrail's reason). Replays re-run it over the
tape (simulated: no model, no tool). Call :func:`keep_traces_local` first: it replaces the SDK's
trace processors (whose exporter sends traces to OpenAI) with the ledger's, so nothing leaves the
machine; ``set_tracing_disabled(True)`` would switch the ledger's processor off too.
"""

from __future__ import annotations

from reliability.integrations.versions import require

require("openai-agents")

from reliability.integrations.openai_agents.model import RecordedModel  # noqa: E402
from reliability.integrations.openai_agents.run import AgentsSDKRun  # noqa: E402
from reliability.integrations.openai_agents.tracing import (  # noqa: E402
    LedgerTracingProcessor,
    keep_traces_local,
)

__all__ = ["AgentsSDKRun", "LedgerTracingProcessor", "RecordedModel", "keep_traces_local"]
