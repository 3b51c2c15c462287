"""Growable numpy columns and string interners: the columnar state projections fold into.

Folding appends one Python value at a time (cheap list appends); readers get a numpy array
view, materialised incrementally, so a report over a million rows is a few vectorised passes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


class Column:
    """An append-only column of one numpy dtype.

    Appends go to a Python list; :meth:`array` moves them into a capacity-doubling numpy
    buffer and returns a view of the filled part, so each value is copied once.
    """

    __slots__ = ("_buf", "_dtype", "_n", "_pending")

    def __init__(self, dtype: npt.DTypeLike, values: npt.NDArray[Any] | None = None) -> None:
        self._dtype = np.dtype(dtype)
        if values is None:
            self._buf: npt.NDArray[Any] = np.empty(1024, dtype=self._dtype)
            self._n = 0
        else:
            self._buf = np.array(values, dtype=self._dtype)
            self._n = len(values)
        self._pending: list[Any] = []

    def append(self, value: Any) -> None:
        """Add one value at the end."""
        self._pending.append(value)

    def __len__(self) -> int:
        return self._n + len(self._pending)

    def extend(self, values: npt.NDArray[Any]) -> None:
        """Add many values at the end (after any pending single appends)."""
        self.array()
        need = self._n + len(values)
        self._reserve(need)
        self._buf[self._n : need] = values
        self._n = need

    def _reserve(self, need: int) -> None:
        if need > len(self._buf):
            grown = np.empty(max(need, 2 * len(self._buf)), dtype=self._dtype)
            grown[: self._n] = self._buf[: self._n]
            self._buf = grown

    def array(self) -> npt.NDArray[Any]:
        """Return the column as a numpy array (a view; do not modify it)."""
        pending = self._pending
        if pending:
            need = self._n + len(pending)
            self._reserve(need)
            self._buf[self._n : need] = pending
            self._n = need
            self._pending = []
        return self._buf[: self._n]


class Vector:
    """A growable numpy array updated in place by index (per-workflow facts, say).

    Reports read :meth:`array` without converting a Python list each time.
    """

    __slots__ = ("_buf", "_fill", "_n")

    def __init__(self, dtype: npt.DTypeLike, fill: Any, values: npt.NDArray[Any] | None = None) -> None:
        self._fill = fill
        if values is None:
            self._buf: npt.NDArray[Any] = np.full(1024, fill, dtype=dtype)
            self._n = 0
        else:
            self._buf = np.array(values, dtype=dtype)
            self._n = len(values)

    def grow(self) -> None:
        """Add one element holding the fill value."""
        if self._n == len(self._buf):
            grown = np.full(2 * len(self._buf) or 1024, self._fill, dtype=self._buf.dtype)
            grown[: self._n] = self._buf[: self._n]
            self._buf = grown
        self._n += 1

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index: int) -> Any:
        return self._buf[index]

    def __setitem__(self, index: int, value: Any) -> None:
        self._buf[index] = value

    def array(self) -> npt.NDArray[Any]:
        """The filled part (a view; do not modify it)."""
        return self._buf[: self._n]


class Interner:
    """Maps strings to dense integer codes (0, 1, 2, …) and back."""

    __slots__ = ("codes", "names")

    def __init__(self, names: list[str] | None = None) -> None:
        self.names: list[str] = list(names or [])
        self.codes: dict[str, int] = {n: i for i, n in enumerate(self.names)}

    def code(self, name: str) -> int:
        """Return the code of ``name``, assigning the next one if it is new."""
        c = self.codes.get(name)
        if c is None:
            c = len(self.names)
            self.codes[name] = c
            self.names.append(name)
        return c

    def __len__(self) -> int:
        return len(self.names)


class Table:
    """Named columns of equal length, appended a row at a time.

    Rows wait as tuples (one list append per row, the cheapest thing a fold can do) and move
    into the columns in one vectorised conversion when a column is read.
    """

    def __init__(self, spec: dict[str, npt.DTypeLike]) -> None:
        self.spec = {name: np.dtype(dtype) for name, dtype in spec.items()}
        self._row_dtype = np.dtype(list(self.spec.items()))
        self.columns = {name: Column(dtype) for name, dtype in self.spec.items()}
        self._rows: list[tuple[Any, ...]] = []

    FLUSH_ROWS = 50_000
    """Pending rows moved into the columns once this many wait: a pending row is a tuple of
    Python objects, several times the size of the same values in the columns, and a rebuild
    that kept them all until the end held them for every event."""

    def add(self, *values: Any) -> None:
        """Append one row, values in the order of the spec."""
        rows = self._rows
        rows.append(values)
        if len(rows) >= self.FLUSH_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            block = np.array(self._rows, dtype=self._row_dtype)
            self._rows = []
            for name, column in self.columns.items():
                column.extend(block[name])

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) + len(self._rows)

    def __getitem__(self, name: str) -> npt.NDArray[Any]:
        self._flush()
        return self.columns[name].array()

    def dump(self, prefix: str) -> dict[str, npt.NDArray[Any]]:
        """Return the columns as arrays keyed ``prefix.name`` (for serialising state)."""
        self._flush()
        return {f"{prefix}.{name}": col.array() for name, col in self.columns.items()}

    def load(self, prefix: str, arrays: dict[str, npt.NDArray[Any]]) -> None:
        """Restore columns saved by :meth:`dump`."""
        self._rows = []
        for name, dtype in self.spec.items():
            self.columns[name] = Column(dtype, arrays[f"{prefix}.{name}"])


def window_mask(
    times: npt.NDArray[np.int64], since_us: int | None, until_us: int | None
) -> npt.NDArray[np.bool_] | None:
    """Return the half-open ``since <= t < until`` mask, or ``None`` when unbounded."""
    if since_us is None and until_us is None:
        return None
    mask = np.ones(len(times), dtype=bool)
    if since_us is not None:
        mask &= times >= since_us
    if until_us is not None:
        mask &= times < until_us
    return mask
