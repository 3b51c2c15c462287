"""Signed heads while serving: the chain's head signed into a directory every few seconds.

The same files as ``rledger anchor --out DIR`` and ``rledger follow --anchor-every``: one per
head, so ``rledger verify --anchor DIR`` proves the ledger still extends each one. A head that
has not moved since the last anchor is not signed again; the head at shutdown is signed once
more, so the last events served are covered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool

if TYPE_CHECKING:
    from ledger import Ledger
    from reliability.service.config import AnchorSchedule

log = logging.getLogger("rledger.serve")


class Anchorer:
    """Signs the head of one ledger on a schedule (one asyncio task while the server runs)."""

    def __init__(self, ledger: Ledger, schedule: AnchorSchedule) -> None:
        self._ledger = ledger
        self._schedule = schedule
        self._signed: int | None = None  # the offset of the last head signed
        self.written = 0
        """How many anchors this server wrote."""
        self.failures = 0
        """How many attempts failed (logged each time; the server keeps serving)."""
        self._task: asyncio.Task[None] | None = None

    def sign_now(self) -> Path | None:
        """Sign the head if it moved since the last anchor; return the file written, if any."""
        from ledger import sign_head, write_anchor

        head = self._ledger.latest_offset()
        if head == self._signed:
            return None
        anchor = sign_head(self._ledger.backend, self._schedule.key, self._ledger.clock())
        path = write_anchor(anchor, self._schedule.out)
        self._signed = anchor.offset
        self.written += 1
        return path

    async def _attempt(self) -> None:
        try:
            await run_in_threadpool(self.sign_now)
        except Exception as exc:  # a full disk or a ledger outage must not stop the server
            self.failures += 1
            log.error("rledger serve: could not anchor the head in %s: %s", self._schedule.out, exc)

    async def _run(self) -> None:
        while True:
            await self._attempt()
            await asyncio.sleep(self._schedule.every)

    def start(self) -> None:
        """Start signing: now, then every ``schedule.every`` seconds."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="rledger-anchor")

    async def stop(self) -> None:
        """Stop the schedule and sign the final head (after pending appends were committed)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._attempt()
