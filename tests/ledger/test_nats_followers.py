"""Two `rledger follow` processes share a JetStream ledger: one holds the lease, the other takes over.

The active follower is killed with SIGKILL mid-stream; the waiting one takes the lease once it
expires (``LEASE_SECONDS``) and carries on from the last saved position, so the stored states
end equal, digest for digest, to a fresh fold of every event: none skipped, none counted twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ledger import StepRecorded, open_ledger
from ledger.backends.nats.meta import LEASE_SECONDS
from projections import CORE_PROJECTIONS
from projections.fold.runner import fold_range

pytestmark = [pytest.mark.nats, pytest.mark.slow]

TAKEOVER_BOUND = LEASE_SECONDS + 4.0
"""The lease's expiry, the waiting runner's poll (0.5 s) and a follower's start-up, with room."""


def follower(url: str, log: Path) -> subprocess.Popen[bytes]:
    rledger = str(Path(sys.executable).parent / "rledger")
    with log.open("wb") as out:
        return subprocess.Popen(
            [rledger, "--db", url, "follow", "--wait", "--seconds", "60", "--save-interval", "0.2"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def positions(url: str) -> set[int]:
    with open_ledger(url) as ledger:
        views = [ledger.backend.load_view(t.name) for t in CORE_PROJECTIONS]
    return {v.position if v is not None else 0 for v in views}


def wait_for_position(url: str, offset: int, within: float) -> float:
    started = time.monotonic()
    while positions(url) != {offset}:
        assert time.monotonic() - started < within, f"no follower reached offset {offset} in {within} s"
        time.sleep(0.1)
    return time.monotonic() - started


def test_a_killed_follower_is_replaced_within_the_lease_and_nothing_is_skipped_or_doubled(
    nats_url: str, tmp_path: Path
) -> None:
    def batch(n: int, k: int) -> list[StepRecorded]:
        return [
            StepRecorded(workflow_id=f"w{n}-{i % 4}", agent=f"a{i % 3}", success=i % 5 != 0) for i in range(k)
        ]

    with open_ledger(nats_url) as ledger:
        ledger.append(batch(0, 200))
        first = follower(nats_url, tmp_path / "a.log")
        second = None
        try:
            wait_for_position(nats_url, 200, 30)
            second = follower(nats_url, tmp_path / "b.log")  # waits for the lease
            time.sleep(1)
            for n in range(1, 6):
                ledger.append(batch(n, 60))
                time.sleep(0.2)
            os.kill(first.pid, signal.SIGKILL)  # mid-stream: its last events may be folded, unsaved
            first.wait(10)
            killed_at = time.monotonic()
            for n in range(6, 10):
                ledger.append(batch(n, 60))
            head = ledger.latest_offset()
            wait_for_position(nats_url, head, TAKEOVER_BOUND + 10)
            took = time.monotonic() - killed_at
            assert took < TAKEOVER_BOUND, f"takeover took {took:.1f} s"
            assert "at offset" in (tmp_path / "b.log").read_text()

            fresh = [t() for t in CORE_PROJECTIONS]
            fold_range(ledger, fresh)
            stored = {t.name: ledger.backend.load_view(t.name) for t in CORE_PROJECTIONS}
            for p in fresh:
                view = stored[p.name]
                assert view is not None and view.position == head
                assert view.digest == p.snapshot()[1], f"{p.name} differs from a fresh fold"
        finally:
            for proc in (first, second):
                if proc is not None and proc.poll() is None:
                    proc.terminate()
                    proc.wait(10)
