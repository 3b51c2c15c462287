"""``Measure``: a report's number (a rate, a mean, a percentile) that knows whether it was measured.

The guide prints report fields directly (``f"{report.ma:.2%}"``). A metric over no observations
has no value, and printing or comparing one must never produce a made-up number (0, 100 %). A
:class:`Measure` is a ``float`` when measured; unmeasured it formats as ``n/a``, equals ``None``,
is falsy, and refuses comparison and arithmetic (:class:`UnmeasuredError`). In JSON (and
``model_dump``) an unmeasured measure is ``null``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any, SupportsFloat

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

NOT_MEASURED = "n/a"
"""How an unmeasured measure prints, whatever the format spec."""


class UnmeasuredError(TypeError):
    """A metric with no observations was compared or computed with as if it had a value."""

    def __init__(self, op: str) -> None:
        super().__init__(f"cannot {op} a metric with no observations (it prints as {NOT_MEASURED!r})")


def _guarded(name: str) -> Callable[..., Any]:
    base = getattr(float, name)

    def op(self: Measure, *args: Any) -> Any:
        if not self.measured:
            raise UnmeasuredError(f"use {name.strip('_')} on")
        return base(self, *args)

    op.__name__ = name
    return op


class _ReportField:
    """The pydantic side of a report field that may be unmeasured: validated by ``of``, dumped as its value.

    ``JSON_TYPE`` is the JSON type of a measured value (a ``null`` stands for "not measured").
    """

    JSON_TYPE = "number"

    @classmethod
    def of(cls, value: Any) -> Any:
        raise NotImplementedError

    @classmethod
    def __get_pydantic_core_schema__(cls, source: type[Any], handler: GetCoreSchemaHandler) -> Any:
        del source, handler
        return core_schema.no_info_plain_validator_function(
            cls.of,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda r: r.value, when_used="always"
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        del schema, handler
        return {"anyOf": [{"type": cls.JSON_TYPE}, {"type": "null"}]}


class Measure(_ReportField, float):
    """A metric's value, or "not measured" (no observations).

    Measured, it is the float it holds (compares, formats and computes as one). Unmeasured
    (``Measure(None)``), ``format`` gives ``n/a``, ``== None`` is true, ``bool`` is false, and
    ``<``, ``+``, ``float()``… raise :class:`UnmeasuredError`.
    """

    __slots__ = ()

    def __new__(cls, value: SupportsFloat | None = None) -> Measure:
        """Wrap ``value``; ``None`` (or NaN) is "not measured"."""
        return super().__new__(cls, math.nan if value is None else float(value))

    @property
    def measured(self) -> bool:
        """Whether the metric had observations."""
        return not math.isnan(self)

    @property
    def value(self) -> float | None:
        """The plain float, or ``None`` when not measured (what JSON says)."""
        return float.__float__(self) if self.measured else None

    def __format__(self, spec: str) -> str:
        return float.__format__(self, spec) if self.measured else NOT_MEASURED

    def __repr__(self) -> str:
        return f"Measure({float.__repr__(self) if self.measured else None})"

    def __str__(self) -> str:
        return float.__repr__(self) if self.measured else NOT_MEASURED

    def __bool__(self) -> bool:
        return self.measured and float.__bool__(self)

    def __eq__(self, other: object) -> bool:
        if other is None:
            return not self.measured
        if not isinstance(other, int | float):
            return NotImplemented  # e.g. pytest.approx: let the other side decide
        if not self.measured or (isinstance(other, Measure) and not other.measured):
            return not self.measured and isinstance(other, Measure) and not other.measured
        return float.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        return hash(None) if not self.measured else float.__hash__(self)

    __lt__ = _guarded("__lt__")
    __le__ = _guarded("__le__")
    __gt__ = _guarded("__gt__")
    __ge__ = _guarded("__ge__")
    __add__ = _guarded("__add__")
    __radd__ = _guarded("__radd__")
    __sub__ = _guarded("__sub__")
    __rsub__ = _guarded("__rsub__")
    __mul__ = _guarded("__mul__")
    __rmul__ = _guarded("__rmul__")
    __truediv__ = _guarded("__truediv__")
    __rtruediv__ = _guarded("__rtruediv__")
    __neg__ = _guarded("__neg__")
    __abs__ = _guarded("__abs__")
    __float__ = _guarded("__float__")
    __int__ = _guarded("__int__")
    __round__ = _guarded("__round__")

    @classmethod
    def of(cls, value: Any) -> Measure:
        """Validate a report field: a number, ``None`` or a ``Measure``."""
        if isinstance(value, Measure):
            return value
        if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
            return cls(value)
        raise ValueError(f"a measure is a number or None, not {type(value).__name__}")


def value_of(value: float | None) -> float | None:
    """A report field as a plain ``float``, or ``None`` when it was not measured."""
    if isinstance(value, Measure):
        return value.value
    return None if value is None else float(value)


class MoneyMeasure(_ReportField, Decimal):
    """An amount that is a quotient over observations (cost per workflow), or "not measured".

    The money equivalent of :class:`Measure`: measured, it is the exact ``Decimal`` (formats and
    computes as one); unmeasured (``MoneyMeasure(None)``, no workflows to divide by) it formats as
    ``n/a``, equals ``None`` and is falsy. In JSON it is an exact string, or ``null``.
    """

    JSON_TYPE = "string"

    __slots__ = ()

    def __new__(cls, value: Decimal | int | str | None = None) -> MoneyMeasure:
        """Wrap ``value``; ``None`` is "not measured" (held as a quiet NaN)."""
        return super().__new__(cls, "NaN" if value is None else value)

    @property
    def measured(self) -> bool:
        """Whether there were observations to divide by."""
        return not self.is_nan()

    @property
    def value(self) -> Decimal | None:
        """The plain ``Decimal``, or ``None`` when not measured."""
        return Decimal(self) if self.measured else None

    def __format__(self, spec: str, _context: Any = None) -> str:
        return Decimal(self).__format__(spec) if self.measured else NOT_MEASURED

    def __repr__(self) -> str:
        return f"MoneyMeasure({str(Decimal(self))!r})" if self.measured else "MoneyMeasure(None)"

    def __str__(self) -> str:
        return str(Decimal(self)) if self.measured else NOT_MEASURED

    def __bool__(self) -> bool:
        return self.measured and Decimal.__bool__(self)

    def __eq__(self, other: object) -> bool:
        if other is None:
            return not self.measured
        if not self.measured:
            return isinstance(other, MoneyMeasure) and not other.measured
        return Decimal.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(None) if not self.measured else Decimal.__hash__(self)

    @classmethod
    def of(cls, value: Any) -> MoneyMeasure:
        """Validate a report field: a ``Decimal``, an int, ``None`` or a ``MoneyMeasure``."""
        if isinstance(value, MoneyMeasure):
            return value
        if value is None or (isinstance(value, Decimal | int) and not isinstance(value, bool)):
            return cls(value)
        raise ValueError(f"an amount is a Decimal or None, not {type(value).__name__}")
