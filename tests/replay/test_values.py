"""Tool results with no JSON form: recorded with a type marker, never a crash, served back if they can be."""

from __future__ import annotations

import asyncio
import math
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

import orjson
import pydantic
import pytest

from ledger import Ledger
from replay import (
    DecisionTrailBuilder,
    NotReplayableValueError,
    Replayer,
    RunContext,
    from_json_value,
    run_workflow,
    to_json_value,
)


class Colour(Enum):
    RED = "red"


class Order(pydantic.BaseModel):
    order_id: str
    placed: datetime


@dataclass(frozen=True)
class Receipt:
    total: Decimal
    scan: bytes
    order: Order


class Opaque:
    """An object with no JSON form (and a deterministic repr)."""

    def __repr__(self) -> str:
        return "Opaque(handle=7)"


PLACED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
VALUES: list[Any] = [
    b"\x00\xffraw",
    bytearray(b"buf"),
    float("inf"),
    float("-inf"),
    PLACED,
    date(2026, 1, 2),
    Decimal("0.10"),
    UUID("0190a1b2-0000-7000-8000-000000000001"),
    {1, 2, 3},
    frozenset({"a"}),
    {1: "one", None: "none"},
    {"__ledger_value__": "a user's own key", "x": 1},
    Order(order_id="A-7", placed=PLACED),
    Receipt(Decimal("9.99"), b"\x89PNG", Order(order_id="A-7", placed=PLACED)),
    Colour.RED,
    [b"a", {"nested": (Decimal("1"), b"b")}],
    {"plain": [1, "two", None, True, 2.5]},
]


def through_storage(value: Any) -> Any:
    return orjson.loads(orjson.dumps(to_json_value(value)))


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_a_value_with_a_marked_form_comes_back_as_itself(value: Any) -> None:
    back = from_json_value(through_storage(value))

    expected = bytes(value) if isinstance(value, bytearray) else value
    if isinstance(value, list):  # tuples are JSON arrays
        expected = [b"a", {"nested": [Decimal("1"), b"b"]}]
    assert back == expected and type(back) is type(expected)


def test_nan_comes_back_as_nan() -> None:
    assert math.isnan(from_json_value(through_storage(float("nan"))))


def test_json_values_are_stored_as_they_are() -> None:
    value = {"a": [1, 2.5, "x", None, False], "b": {"c": "d"}}

    assert to_json_value(value) == value


def test_an_object_with_no_json_form_is_stored_as_its_repr_and_not_served_as_a_value() -> None:
    stored = through_storage(Opaque())

    assert stored == {"__ledger_value__": "repr", "class": f"{__name__}:Opaque", "repr": "Opaque(handle=7)"}
    with pytest.raises(NotReplayableValueError, match=r"not replayable as a value: .*Opaque"):
        from_json_value(stored)


def test_a_broken_repr_still_records() -> None:
    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert through_storage(Broken())["repr"] == "<Broken: repr failed: RuntimeError>"


def test_stored_data_never_makes_a_replay_import_a_module() -> None:
    module = "xml.dom.minidom"
    sys.modules.pop(module, None)
    stored = {"__ledger_value__": "dataclass", "class": f"{module}:Document", "fields": {}}

    with pytest.raises(NotReplayableValueError, match=r"class xml\.dom\.minidom:Document is not loaded"):
        from_json_value(stored)
    assert module not in sys.modules


def test_a_class_that_changed_since_the_recording_is_not_replayable() -> None:
    stored = through_storage(Order(order_id="A-7", placed=PLACED))
    del stored["value"]["placed"]

    with pytest.raises(NotReplayableValueError, match="cannot be rebuilt"):
        from_json_value(stored)


TOOLS: dict[str, Any] = {
    "scan": lambda: b"\x89PNG\x00",
    "order": lambda: Order(order_id="A-7", placed=PLACED),
    "receipt": lambda: Receipt(Decimal("9.99"), b"\x01", Order(order_id="A-7", placed=PLACED)),
    "ratio": lambda: float("nan"),
    "handle": Opaque,
}


async def shop(ctx: RunContext, names: list[str]) -> dict[str, str]:
    """Calls each tool and reports the type it got back (the run sees the real values)."""
    got = {}
    for name in names:
        got[name] = type(await ctx.call_tool(name)).__name__
    return got


def test_a_run_whose_tools_return_non_json_values_is_recorded_not_crashed(ledger: Ledger) -> None:
    ctx = RunContext(ledger, "wf-values", tools=TOOLS)

    outcome = asyncio.run(run_workflow(shop, ctx, list(TOOLS)))

    assert outcome == {
        "scan": "bytes",
        "order": "Order",
        "receipt": "Receipt",
        "ratio": "float",
        "handle": "Opaque",
    }
    trail = asyncio.run(DecisionTrailBuilder(ledger).build_trail("wf-values"))
    assert trail.success and [c.result["__ledger_value__"] for c in trail.tool_calls] == [
        "bytes",
        "pydantic",
        "dataclass",
        "float",
        "repr",
    ]
    assert ledger.verify().ok


def test_a_simulated_replay_serves_what_it_can_and_reports_the_value_it_cannot(ledger: Ledger) -> None:
    asyncio.run(
        run_workflow(shop, RunContext(ledger, "wf-shop", tools=TOOLS, inputs=list(TOOLS)), list(TOOLS))
    )
    trail = asyncio.run(DecisionTrailBuilder(ledger).build_trail("wf-shop"))

    result = asyncio.run(Replayer(trail).simulated_replay(orchestrator=shop))

    assert not result.success
    assert [(d.location, d.field, d.significance) for d in result.differences if d.field == "result"] == [
        ("call 4", "result", "critical")
    ]
    assert "not replayable as a value" in result.differences[0].description
    assert "Opaque(handle=7)" in (result.error or "")


def test_a_simulated_replay_of_replayable_values_matches_and_serves_the_values_themselves(
    ledger: Ledger,
) -> None:
    names = ["scan", "order", "receipt", "ratio"]
    asyncio.run(run_workflow(shop, RunContext(ledger, "wf-ok", tools=TOOLS, inputs=names), names))
    trail = asyncio.run(DecisionTrailBuilder(ledger).build_trail("wf-ok"))

    result = asyncio.run(Replayer(trail).simulated_replay(orchestrator=shop))

    assert result.success and result.is_exact_match(), result.differences
    assert result.outcome == {"scan": "bytes", "order": "Order", "receipt": "Receipt", "ratio": "float"}


def test_a_strict_replay_compares_marked_results_as_stored(ledger: Ledger) -> None:
    names = ["scan", "order", "handle"]
    asyncio.run(run_workflow(shop, RunContext(ledger, "wf-strict", tools=TOOLS, inputs=names), names))
    trail = asyncio.run(DecisionTrailBuilder(ledger).build_trail("wf-strict"))
    tools = dict(TOOLS, scan=lambda: b"other")

    result = asyncio.run(Replayer(trail).strict_replay(orchestrator=shop, tool_registry=tools))

    assert [(d.location, d.field) for d in result.differences] == [("call 0", "result")]


class Point:
    """A type of an integration's own: no JSON form, not a dataclass, not pydantic."""

    def __init__(self, x: int, fail: bool = False) -> None:
        self.x, self.fail = x, fail


def test_a_registered_kind_is_stored_by_its_encoder_and_rebuilt_by_its_decoder() -> None:
    from replay import register_value_kind

    def encode(p: Point) -> dict[str, Any]:
        if p.fail:
            raise RuntimeError("cannot encode")
        return {"x": p.x}

    register_value_kind("test.point", Point, encode, lambda stored: Point(stored["x"] + 0))
    stored = to_json_value({"p": Point(3)})
    assert stored == {"p": {"__ledger_value__": "test.point", "x": 3}}
    assert from_json_value(stored)["p"].x == 3
    # An encoder that raises: recorded generically (as its repr), never a crash.
    assert to_json_value(Point(1, fail=True))["__ledger_value__"] == "repr"
    # A stored form its decoder cannot rebuild is not replayable, with the reason.
    with pytest.raises(NotReplayableValueError, match=r"a test\.point that cannot be rebuilt"):
        from_json_value({"__ledger_value__": "test.point"})
    with pytest.raises(ValueError, match="built in"):
        register_value_kind("bytes", Point, encode, lambda stored: None)
