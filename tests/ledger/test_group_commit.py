"""The group-commit writer keeps serving callers whatever happens after a commit."""

from __future__ import annotations

import asyncio
import logging

import pytest

from ledger import PlanRevised, open_ledger


def test_a_failing_retention_sweep_does_not_stop_async_appends(caplog: pytest.LogCaptureFixture) -> None:
    # The sweep runs in the writer thread after each shared commit; if it could end that
    # thread, every later await would hang. Here it always fails: appends must still resolve.
    class Broken:
        def maybe_sweep(self, ledger: object, now: object) -> None:
            raise RuntimeError("sweep failed")

    async def main() -> list[int]:
        with open_ledger("memory://") as ledger:
            ledger.retention = Broken()  # type: ignore[assignment]
            first = await asyncio.wait_for(ledger.append_async(PlanRevised(reason="a")), 5)
            second = await asyncio.wait_for(ledger.append_async(PlanRevised(reason="b")), 5)
            return [*first.offsets, *second.offsets]

    with caplog.at_level(logging.ERROR, logger="ledger.groupcommit"):
        assert asyncio.run(main()) == [1, 2]
    assert "retention sweep after a group commit failed" in caplog.text
