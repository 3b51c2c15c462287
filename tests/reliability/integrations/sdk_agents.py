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
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseFunctionToolCall,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseUsage,
)
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
        self.streamed = 0

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

    async def stream_response(
        self, system_instructions: Any, input: Any, *args: Any, **kwargs: Any
    ) -> AsyncIterator[Any]:
        """The same answer as a stream: each output item done, then the completed response."""
        self.streamed += 1
        answer = await self.get_response(system_instructions, input, *args, **kwargs)
        for i, item in enumerate(answer.output):
            yield ResponseOutputItemDoneEvent(
                type="response.output_item.done", item=item, output_index=i, sequence_number=i
            )
        u = answer.usage
        response = Response(
            id=f"resp-{len(self.asked)}",
            created_at=0,
            model="fake",
            object="response",
            output=answer.output,
            parallel_tool_calls=False,
            tool_choice="auto",
            tools=[],
            usage=ResponseUsage(
                input_tokens=u.input_tokens,
                output_tokens=u.output_tokens,
                total_tokens=u.total_tokens,
                input_tokens_details=u.input_tokens_details,
                output_tokens_details=u.output_tokens_details,
            ),
        )
        yield ResponseCompletedEvent(
            type="response.completed", response=response, sequence_number=len(answer.output)
        )


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


def make_run(answers: list[list[Any]] | None = None, *, streamed: bool = False) -> AgentsSDKRun:
    """The triage → billing agents over a fresh scripted model."""
    billing = Agent(name="billing", instructions="You handle billing.", tools=[order_status])
    triage = Agent(
        name="triage",
        instructions="Route the customer.",
        handoffs=[billing],
        input_guardrails=[InputGuardrail(guardrail_function=no_swearing, run_in_parallel=False)],
    )
    model = FakeModel(script() if answers is None else answers)
    return AgentsSDKRun(triage, model, "gpt-4o-mini", streamed=streamed)
