"""Retention by field: a sealed field is erased (its day's key destroyed) once past its horizon."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from ledger import InvalidURLOptionError, ToolCalled, open_ledger
from ledger.keys import ERASED
from ledger.keys.options import parse_horizons, split_options
from tests.conftest import ManualClock, sqlite_url

pytestmark = pytest.mark.usefixtures("master_key")


def _call(clock: ManualClock, n: int) -> ToolCalled:
    return ToolCalled(
        workflow_id="wf",
        tool="crm",
        arguments={"q": f"query {n}"},
        result=f"result {n}",
        occurred_at=clock(),
        subject="alice",
    )


def test_a_field_past_its_horizon_is_erased_and_the_rest_kept(tmp_path: Path, clock: ManualClock) -> None:
    with open_ledger(sqlite_url(tmp_path / "r.db"), clock=clock) as ledger:
        ledger.keep_for(None, fields={"ToolCalled.result": timedelta(days=30)})
        ledger.append(_call(clock, 1))
        clock.advance(days=20)
        ledger.append(_call(clock, 2))
        clock.advance(days=12)  # 32 days after the first call, 12 after the second
        assert ledger.expire_fields(clock()) == 1
        first, second = ledger.read()
        assert first.event.result == ERASED and first.erased == ("result",)  # type: ignore[union-attr]
        assert first.event.arguments == {"q": "query 1"}  # type: ignore[union-attr]
        assert second.event.result == "result 2" and second.erased == ()  # type: ignore[union-attr]
        assert ledger.verify().ok


def test_a_sweep_after_an_append_erases_what_is_due(clock: ManualClock) -> None:
    with open_ledger("memory://", clock=clock) as ledger:
        ledger.keep_for(None, fields={"ToolCalled": timedelta(days=1)}, every=timedelta(hours=1))
        ledger.append(_call(clock, 1))
        clock.advance(days=3)
        ledger.append(_call(clock, 2))  # the append that triggers the sweep
        first, second = ledger.read()
    assert first.erased == ("arguments", "result") and second.erased == ()


def test_a_field_is_kept_for_its_whole_horizon(clock: ManualClock) -> None:
    with open_ledger("memory://", clock=clock) as ledger:
        ledger.keep_for(None, fields={"ToolCalled.result": timedelta(days=30)})
        ledger.append(_call(clock, 1))
        clock.advance(days=30)
        assert ledger.expire_fields(clock()) == 0  # its day is not wholly past the horizon yet
        assert next(ledger.read()).erased == ()


def test_the_url_names_field_horizons(tmp_path: Path, clock: ManualClock) -> None:
    url = sqlite_url(tmp_path / "u.db") + "?retain=ToolCalled.result:30,ModelCalled:7"
    assert split_options(url, url)[1:] == (None, {"ToolCalled.result": 30, "ModelCalled": 7})
    with open_ledger(url, clock=clock) as ledger:
        assert ledger.envelope.horizons == {"ToolCalled.result": 30, "ModelCalled": 7}
        assert ledger.retention is not None and ledger.retention.policy.ttl is None
        ledger.append(_call(clock, 1))
        clock.advance(days=40)
        ledger.expire_fields(clock())
        assert next(ledger.read()).erased == ("result",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ToolCalled.tool:30", "naming a sealed field"),
        ("ToolCalled.result:0", "positive whole number"),
        ("ToolCalled.result:x", "positive whole number"),
        ("Nope:3", "naming a sealed field"),
    ],
)
def test_a_bad_horizon_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(InvalidURLOptionError, match=message):
        parse_horizons(text)


def test_a_horizon_must_be_whole_days() -> None:
    with open_ledger("memory://") as ledger, pytest.raises(ValueError, match="whole number of days"):
        ledger.keep_for(None, fields={"ToolCalled.result": timedelta(hours=12)})
