"""A chat model and tools whose calls go through a run context: on the tape, served back in replays."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from functools import cached_property
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, message_chunk_to_message
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableBinding
from langchain_core.runnables.config import run_in_executor
from langchain_core.tools import BaseTool, StructuredTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict

from reliability.integrations.langgraph.messages import (
    message_from_reply,
    message_json,
    messages_of,
    reply_of,
    whole_chunk,
)
from reliability.integrations.langgraph.steps import path_of
from replay import ModelReply, ModelRequest, PendingModelCall, RunContext

PARAMETERS = ("temperature", "max_tokens", "top_p", "seed", "frequency_penalty", "presence_penalty")
"""The inner model's attributes recorded as a request's parameters (when it has them)."""


def _node() -> str | None:
    # The LangGraph node the call happens in: the agent it is recorded for (a subgraph's node by
    # its path, "outer:inner", as its step is named).
    try:
        from langgraph.config import get_config

        metadata = get_config().get("metadata", {})
    except RuntimeError:  # called outside a graph run
        return None
    namespace = metadata.get("langgraph_checkpoint_ns")
    if isinstance(namespace, str) and "|" in namespace:
        return path_of(namespace)
    node = metadata.get("langgraph_node")
    return str(node) if node else None


def model_name_of(model: BaseChatModel) -> str:
    """The name a chat model is priced by: its ``model_name`` or ``model``, else its type."""
    for attr in ("model_name", "model"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return value
    return model._llm_type


class RecordedChatModel(BaseChatModel):
    """Wraps a chat model so each call is ``ctx.call_model``: recorded, or served from a tape.

    Args:
        inner: the real chat model (or a fake one).
        ctx: the run context the calls are recorded in.
        recorded_model: the model name recorded and priced (default: the inner model's).
        alternatives: chat models by name, for a counterfactual that changes the model
            (``ModelChange(model="gpt-4o-mini")`` runs ``alternatives["gpt-4o-mini"]``; without
            one, the inner model with its ``model_name``/``model`` set to the new name).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: BaseChatModel
    ctx: Any
    recorded_model: str = ""
    alternatives: dict[str, BaseChatModel] = {}
    schemas: dict[str, dict[str, Any]] = {}
    """Tool schemas by tool name, made once per agent (making one costs ~4 ms)."""

    @property
    def _llm_type(self) -> str:
        return "reliability-ledger-recorded"

    def __repr_args__(self) -> Any:
        # LangChain serialises a non-serialisable model by its repr once per model per run, for
        # the callbacks; the full repr walks the run context (every event recorded so far) and
        # the inner model's fields, which cost more than the graph run itself (~8 ms a run).
        yield "recorded_model", self.recorded_model or model_name_of(self.inner)
        yield "inner", type(self.inner).__name__

    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Offer tools: their schemas are part of each request (and bound to the inner model)."""
        known = self.schemas
        schemas = [
            known[t.name] if isinstance(t, BaseTool) and t.name in known else convert_to_openai_tool(t)
            for t in tools
        ]
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=schemas, **kwargs)

    @cached_property
    def _inner_parameters(self) -> dict[str, Any]:
        # Read once per wrapper (one per run): a missing attribute of a pydantic model is a
        # raised and caught AttributeError, six times a call otherwise.
        return {k: v for k in PARAMETERS if (v := getattr(self.inner, k, None)) is not None}

    @cached_property
    def _recorded_name(self) -> str:
        return self.recorded_model or model_name_of(self.inner)

    def _request(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> ModelRequest:
        parameters = dict(self._inner_parameters)
        parameters.update({k: v for k, v in kwargs.items() if k != "tools"})
        if stop:
            parameters["stop"] = list(stop)
        return ModelRequest(
            model=self._recorded_name,
            messages=tuple(message_json(m) for m in messages),
            parameters=parameters,
            tools=tuple(kwargs.get("tools") or ()),
        )

    def _model_for(self, request: ModelRequest) -> tuple[BaseChatModel, dict[str, Any]]:
        # A counterfactual may have changed the model or its parameters: apply what the inner
        # model has as attributes; the rest (stop, tool_choice) goes to the call.
        inner = self.alternatives.get(request.model, self.inner)
        update = {k: v for k, v in request.parameters.items() if k in PARAMETERS and hasattr(inner, k)}
        for attr in ("model_name", "model"):
            if isinstance(getattr(inner, attr, None), str) and request.model != model_name_of(inner):
                update[attr] = request.model
        if update:
            inner = inner.model_copy(update=update)
        call_args = {k: v for k, v in request.parameters.items() if k not in PARAMETERS}
        if request.tools:
            # The inner model's own tool format, as its bind_tools makes it; a fake chat model
            # takes no tools (NotImplementedError): they stay on the record only.
            with contextlib.suppress(NotImplementedError):
                bound = inner.bind_tools(list(request.tools))
                if isinstance(bound, RunnableBinding) and isinstance(bound.bound, BaseChatModel):
                    inner, call_args = bound.bound, {**bound.kwargs, **call_args}
        return inner, call_args

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        asked = self._request(messages, stop, kwargs)
        answered: list[tuple[ModelReply, BaseMessage]] = []

        # The inner model's _generate, not its invoke: this wrapper's run is the one the
        # callbacks see (one chat model run per call, not two), and it costs one layer less.
        def invoke(request: ModelRequest) -> ModelReply:
            model, call_args = self._model_for(request)
            sent = messages if request is asked else messages_of(request.messages)
            message = model._generate(sent, **call_args).generations[0].message
            reply = reply_of(message)
            answered.append((reply, message))
            return reply

        ctx: RunContext = self.ctx
        reply = ctx.call_model_sync(asked, invoke, agent=_node())
        return _result(reply, answered)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        asked = self._request(messages, stop, kwargs)
        answered: list[tuple[ModelReply, BaseMessage]] = []

        async def invoke(request: ModelRequest) -> ModelReply:
            model, call_args = self._model_for(request)
            sent = messages if request is asked else messages_of(request.messages)
            message = (await model._agenerate(sent, **call_args)).generations[0].message
            reply = reply_of(message)
            answered.append((reply, message))
            return reply

        ctx: RunContext = self.ctx
        reply = await ctx.call_model(asked, invoke, agent=_node())
        return _result(reply, answered)

    # -- streaming: a "messages" stream mode (or any streaming callback) calls these ----------

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        ctx: RunContext = self.ctx
        asked = self._request(messages, stop, kwargs)
        call = ctx.start_model_call(asked, agent=_node())
        try:
            served = _served_sync(call)
            if served is not None:  # the tape's reply, or a counterfactual's own model's
                yield from whole_chunk(message_from_reply(served), split=True)
                call.finish(served)
                return
            model, call_args = self._model_for(call.request)
            sent = messages if call.request is asked else messages_of(call.request.messages)
            if type(model)._stream is BaseChatModel._stream:  # a model that cannot stream: whole
                message = model._generate(sent, **call_args).generations[0].message
                yield from whole_chunk(message)
            else:
                merged: ChatGenerationChunk | None = None
                for chunk in model._stream(sent, **call_args):
                    merged = chunk if merged is None else merged + chunk
                    yield chunk  # live, as the model sends it
                message = _merged(merged)
            call.finish(reply_of(message))  # the whole reply, once
        except Exception as exc:
            raise call.fail(exc) from exc

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        ctx: RunContext = self.ctx
        asked = self._request(messages, stop, kwargs)
        call = ctx.start_model_call(asked, agent=_node())
        try:
            served = call.reply
            if served is None and call.invoke is not None:
                answered = call.invoke(call.request)
                served = await answered if inspect.isawaitable(answered) else answered
            if served is not None:  # the tape's reply, or a counterfactual's own model's
                for chunk in whole_chunk(message_from_reply(served), split=True):
                    yield chunk
                call.finish(served)
                return
            model, call_args = self._model_for(call.request)
            sent = messages if call.request is asked else messages_of(call.request.messages)
            cls = type(model)
            if cls._astream is BaseChatModel._astream and cls._stream is BaseChatModel._stream:
                message = (await model._agenerate(sent, **call_args)).generations[0].message
                for chunk in whole_chunk(message):
                    yield chunk
            else:
                merged: ChatGenerationChunk | None = None
                async for chunk in model._astream(sent, **call_args):
                    merged = chunk if merged is None else merged + chunk
                    yield chunk
                message = _merged(merged)
            call.finish(reply_of(message))
        except Exception as exc:
            raise call.fail(exc) from exc


def _served_sync(call: PendingModelCall) -> ModelReply | None:
    # The reply a sync stream serves without the inner model: the tape's, or a counterfactual's.
    if call.reply is not None or call.invoke is None:
        return call.reply
    answered = call.invoke(call.request)
    if inspect.isawaitable(answered):
        if inspect.iscoroutine(answered):
            answered.close()  # never awaited: close it rather than leak a warning
        raise TypeError("the model is async: a sync node cannot stream it")
    return answered


def _merged(merged: ChatGenerationChunk | None) -> BaseMessage:
    # A stream's chunks as the one reply LangChain itself makes of them.
    return AIMessage(content="") if merged is None else message_chunk_to_message(merged.message)


def _result(reply: ModelReply, answered: list[tuple[ModelReply, BaseMessage]]) -> ChatResult:
    # A model that really ran answers with its own message, as it would unrecorded; a reply
    # served from the tape is rebuilt from its recorded form.
    ran = [message for produced, message in answered if produced is reply]
    message = ran[0] if ran else message_from_reply(reply)
    return ChatResult(generations=[ChatGeneration(message=message)])


def recorded_tool(tool: BaseTool, ctx: RunContext) -> BaseTool:
    """The same tool (name, description, arguments) called through ``ctx.call_tool``.

    The real tool runs from the context's registry (:meth:`LangGraphAgent.tool_registry`), so a
    simulated replay serves its results from the tape instead.
    """

    async def acall(**arguments: Any) -> Any:
        return await ctx.call_tool(tool.name, **arguments)

    def call(**arguments: Any) -> Any:
        return ctx.call_tool_sync(tool.name, **arguments)

    # LangChain reads a tool function's type hints on every call (to find injected arguments);
    # these take only the model's arguments, and string annotations would be evaluated each time.
    acall.__annotations__ = {}
    call.__annotations__ = {}

    return StructuredTool.from_function(
        func=call,
        coroutine=acall,
        name=tool.name,
        description=tool.description,
        args_schema=tool.args_schema,
        return_direct=tool.return_direct,
    )


def real_tool(tool: BaseTool) -> Callable[..., Any]:
    """The registry entry that runs a tool for real (async: LangGraph's tool node awaits it).

    A plain ``@tool`` function (a ``StructuredTool``) is called directly — its coroutine, or its
    function in the executor as LangChain itself runs it — since the recorded tool's run is
    already the one the callbacks see; any other tool through ``ainvoke``.
    """

    async def run(**arguments: Any) -> Any:
        if isinstance(tool, StructuredTool) and tool.coroutine is not None:
            return await tool.coroutine(**arguments)
        if isinstance(tool, StructuredTool) and tool.func is not None:
            return await run_in_executor(None, tool.func, **arguments)
        return await tool.ainvoke(arguments)

    return run
