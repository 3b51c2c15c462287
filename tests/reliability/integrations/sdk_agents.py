"""Agents SDK fixtures: a scripted fake ``Model`` (no network), an agent with a tool and a handoff."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from agents import (
    Agent,
    GuardrailFunctionOutput,
    InputGuardrail,
    Model,
    ModelResponse,
    Usage,
    function_tool,
)
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails

from reliability.integrations.openai_agents import AgentsSDKRun, keep_traces_local

keep_traces_local()  # the SDK's exporter would send traces to OpenAI: the ledger's is the only one


def text(content: str, n: int) -> ResponseOutputMessage:
    """A final text answer."""
    return ResponseOutputMessage(
        id=f"msg-{n}",
        type="message",
        role="assistant",
        status="completed",
        content=[ResponseOutputText(type="output_text", text=content, annotations=[])],
    )


def call(name: str, arguments: str, n: int) -> ResponseFunctionToolCall:
    """A function call (a tool, or a handoff's transfer_to_… tool)."""
    return ResponseFunctionToolCall(
        id=f"fc-{n}", type="function_call", name=name, arguments=arguments, call_id=f"call-{n}"
    )


class FakeModel(Model):
    """Answers from a script, one output per call; records what it was asked."""

    def __init__(self, script: list[list[Any]]) -> None:
        self.script = list(script)
        self.asked: list[Any] = []

    async def get_response(
        self, system_instructions: Any, input: Any, *args: Any, **kwargs: Any
    ) -> ModelResponse:
        self.asked.append((system_instructions, input))
        output = self.script.pop(0)
        usage = Usage(
            requests=1,
            input_tokens=500,
            output_tokens=40,
            total_tokens=540,
            input_tokens_details=InputTokensDetails.model_validate(
                {"cached_tokens": 100, "cache_write_tokens": 0}
            ),
            output_tokens_details=OutputTokensDetails(reasoning_tokens=5),
        )
        return ModelResponse(output=output, usage=usage, response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        raise NotImplementedError


@function_tool
def order_status(order_id: str) -> str:
    """Look an order's status up."""
    return f"order {order_id}: delivered"


def script() -> list[list[Any]]:
    """Triage hands off to billing, which calls the tool, then answers."""
    return [
        [call("transfer_to_billing", "{}", 1)],
        [call("order_status", '{"order_id": "A-7"}', 2)],
        [text("Order A-7 was delivered; a refund is possible.", 3)],
    ]


async def no_swearing(ctx: Any, agent: Any, input: Any) -> GuardrailFunctionOutput:
    """Trips on a rude word, with the reason."""
    rude = "darn" in str(input)
    return GuardrailFunctionOutput(output_info="rude word 'darn'" if rude else "ok", tripwire_triggered=rude)


def make_run(answers: list[list[Any]] | None = None) -> AgentsSDKRun:
    """The triage → billing agents over a fresh scripted model."""
    billing = Agent(name="billing", instructions="You handle billing.", tools=[order_status])
    triage = Agent(
        name="triage",
        instructions="Route the customer.",
        handoffs=[billing],
        input_guardrails=[InputGuardrail(guardrail_function=no_swearing, run_in_parallel=False)],
    )
    return AgentsSDKRun(triage, FakeModel(script() if answers is None else answers), "gpt-4o-mini")
