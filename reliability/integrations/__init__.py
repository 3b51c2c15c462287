"""Recording agents built with other frameworks: LangGraph and the OpenAI Agents SDK.

Each integration is a module of its own, importable only with its extra installed
(``pip install 'reliability-ledger[langgraph]'``, ``[openai-agents]``): the core never imports a
framework, and importing an integration without its framework, or with a version outside the
supported range, raises :class:`FrameworkVersionError` naming the range.

- :mod:`reliability.integrations.langgraph`: ``LangGraphAgent`` runs a graph built from a
  recorded chat model and recorded tools inside a ``RunContext``; ``LedgerCallbackHandler``
  records each node run as a step.
- :mod:`reliability.integrations.openai_agents`: ``AgentsSDKRun`` runs an SDK agent with a
  recorded ``Model`` and recorded function tools; ``LedgerTracingProcessor`` maps the SDK's
  spans (agents, handoffs, guardrails) to ledger events.

Both are orchestrators for :class:`~replay.Replayer`: a recorded run replays simulated (no
model, no tool), strict (real tools, recorded model) and counterfactual.
"""

from __future__ import annotations

from reliability.integrations.versions import SUPPORTED, FrameworkVersionError, require

__all__ = ["SUPPORTED", "FrameworkVersionError", "require"]
