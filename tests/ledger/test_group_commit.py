"""The group-commit writer keeps serving callers whatever happens after a commit."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

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


def test_concurrent_callers_share_transactions() -> None:
    # 64 callers awaiting at once must not take 64 transactions: that is what group commit is.
    with open_ledger("memory://") as ledger:
        commits: list[int] = []
        commit = ledger.committer.commit

        def counting(batches: Any, **options: Any) -> Any:
            commits.append(len(batches))
            return commit(batches, **options)

        ledger.committer.commit = counting  # type: ignore[method-assign]

        async def main() -> list[int]:
            results = await asyncio.gather(
                *(ledger.append_async(PlanRevised(reason=str(i))) for i in range(64))
            )
            return [o for r in results for o in r.offsets]

        offsets = asyncio.run(main())
        # Callers submit in gather order, so offsets follow it exactly.
        assert offsets == list(range(1, 65))
        assert sum(commits) == 64
        assert len(commits) < 64
        assert [r.event.reason for r in ledger.read()] == [str(i) for i in range(64)]  # type: ignore[union-attr]


def test_callers_in_several_event_loops_are_each_resolved_in_their_own_loop() -> None:
    # Futures are settled per loop in one hand-off; a caller must never be resolved by (or
    # in) another thread's loop.
    with open_ledger("memory://") as ledger:
        got: dict[int, list[tuple[int, str]]] = {}

        def worker(n: int) -> None:
            async def main() -> list[tuple[int, str]]:
                out = []
                for i in range(30):
                    result = await asyncio.wait_for(ledger.append_async(PlanRevised(reason=f"{n}-{i}")), 10)
                    out.append((result.offsets[0], f"{n}-{i}"))
                return out

            got[n] = asyncio.run(main())

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)

        assert sorted(got) == [0, 1, 2, 3]
        offsets = [o for pairs in got.values() for o, _ in pairs]
        assert sorted(offsets) == list(range(1, 121))
        # Each caller got its own event's offset (a future settled with another caller's
        # result would show here), and each loop's appends stay in its order.
        stored = {r.offset: r.event.reason for r in ledger.read()}  # type: ignore[union-attr]
        assert all(stored[o] == reason for pairs in got.values() for o, reason in pairs)
        for pairs in got.values():
            assert [o for o, _ in pairs] == sorted(o for o, _ in pairs)


def test_a_cancelled_caller_does_not_disturb_the_others() -> None:
    # A cancelled await may still be committed (it was queued) but must not keep its
    # neighbours in the same transaction from resolving.
    async def main() -> tuple[list[int], int]:
        with open_ledger("memory://") as ledger:
            tasks = [
                asyncio.ensure_future(ledger.append_async(PlanRevised(reason=str(i)))) for i in range(10)
            ]
            await asyncio.sleep(0)  # every task has submitted
            tasks[3].cancel()
            done = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 5)
            offsets = sorted(o for r in done if not isinstance(r, BaseException) for o in r.offsets)
            return offsets, ledger.latest_offset()

    offsets, latest = asyncio.run(main())
    assert len(offsets) == 9
    assert latest == 10  # the cancelled caller's event was queued before it was cancelled
