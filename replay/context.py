"""The run context: how an orchestrator records a workflow while it runs it.

An orchestrator is anything with ``run(ctx, inputs) -> outcome`` (a plain or an ``async``
function or method). It calls its tools through ``ctx.call_tool(name, **arguments)``, which
runs the tool from the context's :class:`~replay.ToolRegistry` and records a ``ToolCalled``
event with the arguments, result or error, duration and ordinal — that recording is the tape
replays use. Steps, evidence, costs, plan revisions, state changes and checkpoints are recorded
the same way (the methods of :class:`~replay.facts.FactRecorder`). Model calls go through
``ctx.call_model(request, invoke)`` (:mod:`replay.models`) and are on the tape like tool calls,
numbered apart from them.

The context is a context manager (sync and async): leaving it normally completes the workflow
if ``complete`` was not called; an exception completes it as failed with the error recorded.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

from ledger import (
    Clock,
    Ledger,
    LedgerEvent,
    ToolCalled,
    WorkflowCompleted,
    WorkflowStarted,
    as_utc,
    new_event_id,
    utc_now,
)
from projections.metrics import PriceTable
from replay.facts import FactRecorder
from replay.model_calls import ModelCallRecorder
from replay.models import ModelSource
from replay.tools import ToolError, ToolRegistry, as_tool_registry, describe_error
from replay.values import to_json_value

T = TypeVar("T")


class Orchestrator(Protocol):
    """Anything that runs a workflow through a context: ``run(ctx, inputs) -> outcome``."""

    def run(self, ctx: RunContext, inputs: Any) -> Any:
        """Run the workflow; may be ``async``."""


@dataclass
class RunContext(FactRecorder, ModelCallRecorder):
    """Records one workflow run into a ledger (see the module docstring).

    Args:
        ledger: where the events go.
        workflow_id: the run's id (its stream is ``wf:<workflow_id>``).
        tools: the tools ``call_tool`` runs: a :class:`~replay.ToolRegistry` or a plain mapping
            of tool name to callable.
        agent: the default agent for recorded facts.
        clock: aware UTC time source.
        buffered: keep events in memory and append them in one batch when the run completes,
            normally or by an exception (replays use this: a replay's record is atomic and
            cheap; the integrations' recording is cheapest so). A process that dies mid-run
            loses the events not yet appended: at most the whole run, or at most
            ``flush_every`` events. Otherwise (the default) each fact is appended as it happens,
            so a crash loses nothing recorded so far.
        flush_every: with ``buffered``, also append the buffer whenever it holds this many
            events (bounding what a crash can lose; order is kept: each batch follows the last).
    """

    ledger: Ledger
    workflow_id: str
    tools: ToolRegistry = field(default_factory=ToolRegistry)
    agent: str | None = None
    clock: Clock = utc_now
    buffered: bool = False
    flush_every: int | None = None
    prices: PriceTable = field(default_factory=PriceTable)
    price_at: datetime | None = None
    """Price LLM calls as of this time (replays use the original run's, so deltas compare like
    with like); by default, as of each call."""
    goal: str | None = None
    inputs: Any = None
    replay_of: str | None = None
    replay_mode: str | None = None
    models: ModelSource | None = None
    """Where model replies come from: ``None`` runs each model for real (recording); replays
    pass their tape (``replay.model_tape``)."""
    original_outcome: Any = None
    """A replay's: the recorded run's stored outcome (an orchestrator that must stop where the
    recording stopped reads it: a LangGraph stream its caller left early)."""
    on_leave: Callable[[], None] | None = field(default=None, init=False, repr=False, compare=False)
    """Set while something inside the run is unfinished (an open stream): leaving the context
    normally before the run completed calls it first, so it records how the run ended."""
    completed: bool = field(default=False, init=False)
    outcome: Any = field(default=None, init=False)
    success: bool | None = field(default=None, init=False)
    call_count: int = field(default=0, init=False)
    model_call_count: int = field(default=0, init=False)
    recorded: list[LedgerEvent] = field(default_factory=list, init=False)
    _pending: list[LedgerEvent] = field(default_factory=list, init=False)
    _started_at: datetime | None = field(default=None, init=False)
    _started_monotonic: float = field(default=0.0, init=False)
    # Sync nodes and tools of a framework record from worker threads: the buffer and its
    # flushes are one critical section, so no event is appended twice, lost or reordered.
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # A plain mapping of name -> callable is a registry too (the guide passes dicts).
        self.tools = as_tool_registry(self.tools) or ToolRegistry()
        if self.flush_every is not None and (not self.buffered or self.flush_every < 1):
            raise ValueError(
                f"flush_every={self.flush_every!r}: a positive batch size, and only with buffered=True"
            )

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        """Record ``WorkflowStarted`` (called by the context managers)."""
        self._started_at = self.now()
        self._started_monotonic = time.perf_counter()
        self._record(
            WorkflowStarted(
                workflow_id=self.workflow_id,
                agent=self.agent,
                goal=self.goal,
                input=self.inputs,
                replay_of=self.replay_of,
                replay_mode=self.replay_mode,  # validated by the model
                occurred_at=self._started_at,
            )
        )
        return self

    def complete(
        self, outcome: Any = None, *, success: bool = True, total_retries: int | None = None
    ) -> None:
        """Record ``WorkflowCompleted`` with the outcome and the run's duration (once)."""
        if self.completed:
            return
        self.completed = True
        self.outcome = outcome
        self.success = success
        duration_ms = (time.perf_counter() - self._started_monotonic) * 1000
        self._record(
            WorkflowCompleted(
                workflow_id=self.workflow_id,
                agent=self.agent,
                success=success,
                total_steps=None,
                total_retries=total_retries,
                duration_ms=round(duration_ms, 3),
                outcome=to_json_value(outcome),
                occurred_at=self.now(),
            )
        )
        self.flush()

    def fail(self, error: BaseException) -> None:
        """Complete the workflow as failed, recording the error as its outcome."""
        self.complete({"error": f"{type(error).__name__}: {error}"}, success=False)

    def flush(self) -> None:
        """Append buffered events (one atomic batch)."""
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if self._pending:
            # Taken off the buffer only once appended: a failed append keeps them for a retry.
            self.ledger.append(self._pending)
            self._pending = []

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None:
            self.fail(exc)
        else:
            if not self.completed and self.on_leave is not None:
                self.on_leave()
            self.complete(self.outcome)

    async def read_through(
        self, source: AsyncGenerator[T, None], abandoned: Callable[[int], Any]
    ) -> AsyncGenerator[T, None]:
        """Yield ``source``'s items; a caller that stops reading early abandons the run.

        Closed before its end (or the context left with it still open), the stream closes
        ``source`` first (nothing it records comes after the end), then completes the workflow
        as not successful with the outcome ``abandoned(items read)``. Use it under
        ``contextlib.aclosing`` so a close of the caller's own generator reaches it at once.
        """
        read = 0

        def abandon() -> None:
            self.on_leave = None
            self.complete(abandoned(read), success=False)

        self.on_leave = abandon
        try:
            async for item in source:
                read += 1
                yield item
        except GeneratorExit:  # the caller closed the stream before its end
            await source.aclose()
            abandon()
            raise
        finally:
            if self.on_leave is abandon:
                self.on_leave = None

    async def __aenter__(self) -> Self:
        return self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    # -- recording ---------------------------------------------------------------------------

    def now(self) -> datetime:
        """The context's clock, as aware UTC."""
        return as_utc(self.clock())

    def _record(self, event: LedgerEvent) -> None:
        with self._lock:
            self.recorded.append(event)
            if not self.buffered:
                self.ledger.append(event)
            else:
                self._pending.append(event)
                if self.flush_every is not None and len(self._pending) >= self.flush_every:
                    self._flush_locked()

    async def call_tool(self, name: str, /, **arguments: Any) -> Any:
        """Run a tool through the registry and record the call (the tape)."""
        index = self.call_count
        self.call_count += 1
        started = time.perf_counter()
        try:
            result = await self.tools.call(self, name, index, arguments)
        except Exception as exc:
            self._tool_event(name, index, arguments, None, started, error=describe_error(exc))
            raise ToolError(name, index, str(exc)) from exc
        self._tool_event(name, index, arguments, result, started)
        return result

    def call_tool_sync(self, name: str, /, **arguments: Any) -> Any:
        """:meth:`call_tool` for synchronous orchestrators (tools must then be synchronous)."""
        index = self.call_count
        self.call_count += 1
        started = time.perf_counter()
        try:
            result = self.tools.call_sync(self, name, index, arguments)
        except Exception as exc:
            self._tool_event(name, index, arguments, None, started, error=describe_error(exc))
            raise ToolError(name, index, str(exc)) from exc
        self._tool_event(name, index, arguments, result, started)
        return result

    def _tool_event(
        self,
        name: str,
        index: int,
        arguments: dict[str, Any],
        result: Any,
        started: float,
        *,
        error: str | None = None,
    ) -> None:
        self._record(
            ToolCalled(
                workflow_id=self.workflow_id,
                agent=self.agent,
                tool=name,
                arguments=to_json_value(arguments),
                result=to_json_value(result),  # a value with no JSON form is marked, never a crash
                success=error is None,
                error=error,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                call_index=index,
                occurred_at=self.now(),
            )
        )


def new_workflow_id(prefix: str = "wf") -> str:
    """Return a fresh, time-ordered workflow id."""
    return f"{prefix}-{new_event_id().hex[:20]}"


async def run_workflow(
    orchestrator: Orchestrator | Callable[[RunContext, Any], Any],
    ctx: RunContext,
    inputs: Any,
) -> Any:
    """Run ``orchestrator`` inside ``ctx`` (sync or async), completing the workflow either way."""
    run: Callable[[RunContext, Any], Any | Awaitable[Any]]
    run = orchestrator.run if hasattr(orchestrator, "run") else orchestrator
    async with ctx:
        outcome = run(ctx, inputs)
        if inspect.isawaitable(outcome):
            outcome = await outcome
        ctx.complete(outcome)
    return outcome
