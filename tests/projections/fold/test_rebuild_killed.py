"""A killed rebuild leaves nothing that blocks retention; a running one's shadows still count.

``rledger rebuild`` runs in a real subprocess, pauses at a step (the runner's test hook,
``RLEDGER_REBUILD_PAUSE_AT``) and is killed there with SIGKILL. Then ``prune`` (and a ttl sweep)
must reach every old event, the stale ``#shadow`` views must be gone, and the ledger verify.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ledger import Ledger, StepRecorded, open_ledger, shadow_name, take_shadow_lease
from ledger.backends.redis.recorder import RedisLedgerRecorder
from projections import CORE_PROJECTIONS, ProjectionRunner
from tests.conftest import ManualClock

REPO = Path(__file__).resolve().parents[3]
EVENTS = 300
SHADOWS = sorted(shadow_name(t.name) for t in CORE_PROJECTIONS)


@pytest.fixture
def old_ledger(durable_url: str) -> Iterator[str]:
    """300 events committed 100 days ago, every core projection stored at the head."""
    with open_ledger(durable_url, clock=ManualClock(datetime.now(UTC) - timedelta(days=100))) as ledger:
        ledger.append([StepRecorded(workflow_id=f"w{i % 7}", agent="a", success=True) for i in range(EVENTS)])
        with ProjectionRunner(ledger, CORE_PROJECTIONS) as runner:
            runner.catch_up()
    yield durable_url


class PausedRebuild:
    """``rledger rebuild --save-every 100`` in a subprocess, paused at ``step``."""

    def __init__(self, url: str, step: str, tmp_path: Path) -> None:
        marker = tmp_path / f"paused-{step}"
        env = {**os.environ, "RLEDGER_REBUILD_PAUSE_AT": step, "RLEDGER_REBUILD_PAUSE_FILE": str(marker)}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys, cli; sys.exit(cli.main(sys.argv[1:]))",
                "--db",
                url,
                "rebuild",
                "--save-every",
                "100",
                "--quiet",
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while not marker.exists():
            if self.process.poll() is not None:
                raise AssertionError(f"the rebuild exited early: {self.process.stderr.read()!r}")  # type: ignore[union-attr]
            assert time.monotonic() < deadline, f"the rebuild never reached {step}"
            time.sleep(0.02)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        assert self.process.stderr is not None
        self.process.stderr.close()


def shadows(ledger: Ledger) -> list[str]:
    return [n for n in ledger.backend.view_names() if n.endswith("#shadow")]


def wait_until_leases_free(ledger: Ledger) -> None:
    """Wait for the dead rebuild's leases to be freed, as each backend frees them.

    SQLite: at once (the kernel drops a dead process's file locks). PostgreSQL: a moment later
    (the server ends the killed client's session and its advisory locks). Redis: the lease key
    expires ``RUNNER_LOCK_MS`` (30 s) after its holder stopped renewing it; rather than wait
    that long, the test shortens the expiry the dead holder left to 1 ms.
    """
    backend = ledger.backend
    if isinstance(backend, RedisLedgerRecorder):
        # The dead rebuild's runner locks too (a rebuild holds one per projection).
        for name in [*SHADOWS, *(t.name for t in CORE_PROJECTIONS)]:
            backend.client.pexpire(backend.keys.runner(name), 1)
    deadline = time.monotonic() + 10
    for name in SHADOWS:
        while (lease := take_shadow_lease(ledger.backend, name.removesuffix("#shadow"))) is None:
            assert time.monotonic() < deadline, f"the lease of {name} was never freed"
            time.sleep(0.05)
        lease.release()


def prune_old(ledger: Ledger) -> tuple[int, int, str | None]:
    result = ledger.prune(datetime.now(UTC) - timedelta(days=90))
    return result.events, result.through, result.held_back_by


@pytest.mark.slow
@pytest.mark.parametrize("step", ["started", "shadow-saved", "before-switch", "switched"])
def test_a_rebuild_killed_at_any_step_does_not_hold_retention_back(
    old_ledger: str, step: str, tmp_path: Path
) -> None:
    rebuild = PausedRebuild(old_ledger, step, tmp_path)
    rebuild.kill()

    with open_ledger(old_ledger) as ledger:
        left = shadows(ledger)
        # What was killed after a shadow save left shadows behind, at lower positions than
        # the stored projections: before the fix they held every prune back for good.
        assert left == ([] if step == "started" else SHADOWS)
        wait_until_leases_free(ledger)

        assert prune_old(ledger) == (EVENTS, EVENTS, None)
        assert shadows(ledger) == []
        report = ledger.verify()
        assert report.ok and report.pruned_through == EVENTS


@pytest.mark.slow
def test_the_shadows_of_a_running_rebuild_still_count(old_ledger: str, tmp_path: Path) -> None:
    rebuild = PausedRebuild(old_ledger, "shadow-saved", tmp_path)
    try:
        with open_ledger(old_ledger) as ledger:
            events, through, held_back = prune_old(ledger)
            assert (events, through) == (100, 100)
            assert held_back is not None and "#shadow' at offset 100" in held_back
            assert shadows(ledger) == SHADOWS
    finally:
        rebuild.kill()


@pytest.mark.slow
def test_the_next_rebuild_deletes_what_a_killed_one_left(old_ledger: str, tmp_path: Path) -> None:
    PausedRebuild(old_ledger, "before-switch", tmp_path).kill()
    with open_ledger(old_ledger) as ledger:
        assert shadows(ledger) == SHADOWS
        wait_until_leases_free(ledger)
        with ProjectionRunner(ledger, CORE_PROJECTIONS, save_every=100) as runner:
            runner.rebuild()
        assert shadows(ledger) == []
        assert sorted(ledger.backend.view_names()) == sorted(t.name for t in CORE_PROJECTIONS)


@pytest.mark.slow
def test_a_ttl_sweep_is_not_held_back_by_a_killed_rebuild(old_ledger: str, tmp_path: Path) -> None:
    PausedRebuild(old_ledger, "shadow-saved", tmp_path).kill()
    with open_ledger(old_ledger) as ledger:
        wait_until_leases_free(ledger)
        sweeper = ledger.keep_for(timedelta(days=90))
        ledger.append(StepRecorded(agent="a", success=True))  # the append that triggers the sweep

        assert sweeper.last_error is None
        assert sweeper.last is not None and (sweeper.last.through, sweeper.last.held_back_by) == (
            EVENTS,
            None,
        )
