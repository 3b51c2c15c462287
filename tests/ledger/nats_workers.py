"""Processes the JetStream fault tests spawn: writers that retry until each batch is acknowledged."""

from __future__ import annotations

import json
import time


def write_batches(url: str, tag: str, batches: int, out_path: str) -> None:
    """Append ``batches`` batches of 10 steps, retrying each (same ids) until acknowledged.

    Each acknowledged batch's event ids go to ``out_path`` as one JSON line, after the ack.
    """
    from ledger import Ledger, LedgerError, StepRecorded, open_ledger

    ledger: Ledger | None = None
    with open(out_path, "w") as out:
        for b in range(batches):
            events = [
                StepRecorded(workflow_id=f"{tag}-{b % 3}", agent=tag, success=True, mode=f"{b:04d}-{i}")
                for i in range(10)
            ]
            deadline = time.monotonic() + 60
            while True:
                try:
                    if ledger is None:
                        ledger = open_ledger(url)
                    ledger.append(events)
                    break
                except LedgerError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            out.write(json.dumps([str(e.event_id) for e in events]) + "\n")
            out.flush()
    if ledger is not None:
        ledger.close()
