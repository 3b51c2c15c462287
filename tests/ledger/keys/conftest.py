"""Fixtures of the crypto-shredding tests: a master key in the environment, ledgers with subjects."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger import ToolCalled, WorkflowStarted
from ledger.keys import ENV_KEY, ENV_KEY_FILE, new_master_key_text


@pytest.fixture
def master_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh master key in ``$RLEDGER_MASTER_KEY`` (and no key file)."""
    key = new_master_key_text()
    monkeypatch.setenv(ENV_KEY, key)
    monkeypatch.delenv(ENV_KEY_FILE, raising=False)
    yield key


@pytest.fixture
def no_master_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """No master key anywhere in the environment."""
    monkeypatch.delenv(ENV_KEY, raising=False)
    monkeypatch.delenv(ENV_KEY_FILE, raising=False)


ALICE_SECRET = "alice-plaintext-7c1f93 lives at 12 Quiet Lane"
BOB_SECRET = "bob-plaintext-5e20aa card 4111"
PLAIN_SECRET = "no-subject-plaintext-99d3"


def subject_events(workflow: str = "wf-1") -> list[object]:
    """Alice's run (two events), Bob's tool call and a tool call about nobody."""
    return [
        WorkflowStarted(
            workflow_id=workflow, goal=f"help {ALICE_SECRET}", input={"note": ALICE_SECRET}, subject="alice"
        ),
        ToolCalled(
            workflow_id=workflow,
            agent="a",
            tool="crm_lookup",
            arguments={"q": ALICE_SECRET},
            result={"address": ALICE_SECRET},
            duration_ms=12.5,
            subject="alice",
        ),
        ToolCalled(
            workflow_id=workflow,
            agent="a",
            tool="crm_lookup",
            arguments={"q": BOB_SECRET},
            result=BOB_SECRET,
            subject="bob",
        ),
        ToolCalled(
            workflow_id=workflow, agent="a", tool="search", arguments={"q": PLAIN_SECRET}, result=PLAIN_SECRET
        ),
    ]
