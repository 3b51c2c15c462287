"""A small, deterministic example orchestrator and its tools (for the README, tests and the CLI).

``TicketAgent`` answers a support ticket: it searches a knowledge base, looks the customer up,
asks a (stand-in) model to draft a reply, and records evidence and costs as it goes. Its tools
are pure functions of their arguments, so a strict replay reproduces it exactly.
Run it with ``rledger replay WORKFLOW --orchestrator replay.examples:TicketAgent
--tools replay.examples:TOOLS``.
"""

from __future__ import annotations

from typing import Any

from replay.context import RunContext
from replay.tools import ToolRegistry

KNOWLEDGE = {
    "refund": "Refunds are issued within 14 days of purchase.",
    "shipping": "Orders ship within 2 business days.",
    "warranty": "Hardware carries a 2-year warranty.",
}
CUSTOMERS = {"c-1": {"name": "Ada", "tier": "gold"}, "c-2": {"name": "Grace", "tier": "basic"}}


def search(query: str) -> dict[str, Any]:
    """Return knowledge-base articles whose topic appears in the query."""
    hits = [text for topic, text in sorted(KNOWLEDGE.items()) if topic in query.lower()]
    return {"hits": hits, "count": len(hits)}


def lookup_customer(customer_id: str) -> dict[str, Any]:
    """Return the customer record (an error for an unknown id)."""
    if customer_id not in CUSTOMERS:
        raise KeyError(f"no customer {customer_id}")
    return CUSTOMERS[customer_id]


def draft_reply(prompt: str, temperature: float = 0.0) -> dict[str, Any]:
    """A stand-in model: deterministic for temperature 0, more verbose above it."""
    words = prompt.split()
    text = " ".join(words[:12])
    if temperature > 0.3:
        text += " — happy to help further!"
    return {"text": text, "prompt_tokens": len(words) * 4, "completion_tokens": len(text.split()) * 4}


TOOLS = ToolRegistry({"search": search, "lookup_customer": lookup_customer, "draft_reply": draft_reply})
"""The example's tools."""


class TicketAgent:
    """Answers a ticket ``{"customer_id", "question", "temperature"}``; returns the reply."""

    async def run(self, ctx: RunContext, inputs: dict[str, Any]) -> dict[str, Any]:
        """Search, look up the customer, draft a reply, and record why."""
        question = str(inputs["question"])
        ctx.record_step(True, agent="router", mode="explore", declared_mode="explore")
        found = await ctx.call_tool("search", query=question)
        kb = ctx.collect_evidence("knowledge_base", "search", found["hits"])
        customer = await ctx.call_tool("lookup_customer", customer_id=inputs["customer_id"])
        who = ctx.collect_evidence("customer_record", "crm", customer)
        if not found["hits"]:
            ctx.revise_plan("nothing in the knowledge base: answer from the model alone")
        facts = " ".join(found["hits"])
        prompt = f"Customer {customer['name']} ({customer['tier']}) asks: {question} Facts: {facts}"
        temperature = float(inputs.get("temperature", 0.0))
        reply = await ctx.call_tool("draft_reply", prompt=prompt, temperature=temperature)
        ctx.record_llm_cost("gpt-4o-mini", reply["prompt_tokens"], reply["completion_tokens"], agent="writer")
        ctx.collect_evidence("reply", "writer", reply["text"], confidence="claimed", based_on=(kb, who))
        ctx.set_state("answered", True)
        ctx.record_step(True, agent="writer", mode="execute", declared_mode="execute")
        return {"reply": reply["text"], "articles": found["count"]}
