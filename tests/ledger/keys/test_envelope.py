"""Sealing at append and opening on read: round trips, the master key's errors, what is refused."""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest

from ledger import BatchRejectedError, PrivacyError, ReadQuery, StateChanged, ToolCalled, open_ledger
from ledger.keys import ENV_KEY, ERASED, MasterKeyError, SubjectsUnsupportedError, new_master_key_text
from ledger.keys.master import MasterKey, load_master_key, parse_master_key
from tests.conftest import MEMORY, POSTGRES, SQLITE, sqlite_url
from tests.ledger.keys.conftest import ALICE_SECRET, BOB_SECRET, PLAIN_SECRET, subject_events

pytestmark = pytest.mark.usefixtures("master_key")


@pytest.fixture(params=[MEMORY, SQLITE, POSTGRES])
def keyed_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A ledger on each backend that keeps subject keys."""
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "k.db")
    url: str = request.getfixturevalue("pg_url")
    return url


def test_subject_fields_read_back_as_appended_and_are_stored_sealed(keyed_url: str) -> None:
    with open_ledger(keyed_url) as ledger:
        ledger.append(subject_events())
        records = list(ledger.read())
        rows = [bytes(r.state) for r in ledger.read_rows(_all())]
    started, alice_call, bob_call, _plain = (r.event for r in records)
    assert started.goal == f"help {ALICE_SECRET}" and started.input == {"note": ALICE_SECRET}  # type: ignore[union-attr]
    assert alice_call.arguments == {"q": ALICE_SECRET} and alice_call.result == {"address": ALICE_SECRET}  # type: ignore[union-attr]
    assert bob_call.result == BOB_SECRET  # type: ignore[union-attr]
    assert all(r.erased == () for r in records)
    # Stored: the subject as a pseudonym, the free-form fields as markers; structure in the clear.
    stored = [orjson.loads(s) for s in rows]
    assert stored[0]["subject"].startswith("sub:") and "alice" not in rows[0].decode()
    assert stored[1]["arguments"]["$enc"] == "v1" and stored[1]["result"]["$enc"] == "v1"
    assert stored[1]["tool"] == "crm_lookup" and stored[1]["duration_ms"] == 12.5
    assert ALICE_SECRET.encode() not in rows[0] + rows[1] and BOB_SECRET.encode() not in rows[2]
    assert "subject" not in stored[3] and PLAIN_SECRET.encode() in rows[3]


def test_an_event_without_a_subject_encodes_as_before() -> None:
    event = ToolCalled(tool="t", arguments={"a": 1}, result="r")
    assert b"subject" not in event.__pydantic_serializer__.to_json(event)


def test_verify_passes_over_sealed_events(keyed_url: str) -> None:
    with open_ledger(keyed_url) as ledger:
        ledger.append(subject_events())
        assert ledger.verify().ok


def test_a_retried_append_is_recognised_as_the_same_event(keyed_url: str) -> None:
    events = subject_events()
    with open_ledger(keyed_url) as ledger:
        first = ledger.append(events)
        again = ledger.append(events)
    assert again.duplicates == 4 and again.written == 0 and again.offsets == first.offsets


def test_a_sealed_field_cannot_be_moved_to_another_event(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "m.db")
    with open_ledger(url) as ledger:
        ledger.append(subject_events())
        rows = list(ledger.read_rows(_all()))
    one, other = orjson.loads(rows[1].state), orjson.loads(rows[2].state)
    one["result"] = other["result"]  # Bob's ciphertext put in Alice's event
    with open_ledger(url) as ledger, pytest.raises(PrivacyError, match="does not decrypt"):
        ledger.open_sealed(one)


def test_appending_a_subject_without_a_master_key_is_refused_and_writes_nothing(
    keyed_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_KEY)
    with open_ledger(keyed_url) as ledger:
        with pytest.raises(MasterKeyError, match=r"none is set.*nothing was written"):
            ledger.append(subject_events())
        assert ledger.latest_offset() == 0


def test_a_ledger_holding_keys_will_not_open_without_the_master_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = sqlite_url(tmp_path / "k.db")
    with open_ledger(url) as ledger:
        ledger.append(subject_events())
    monkeypatch.delenv(ENV_KEY)
    with pytest.raises(MasterKeyError, match="holds subject keys"):
        open_ledger(url)


def test_a_ledger_holding_keys_will_not_open_with_another_master_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = sqlite_url(tmp_path / "k.db")
    with open_ledger(url) as ledger:
        ledger.append(subject_events())
    other = new_master_key_text()
    monkeypatch.setenv(ENV_KEY, other)
    with pytest.raises(MasterKeyError, match="does not open the stored subject keys") as caught:
        open_ledger(url)
    assert other not in str(caught.value)


def test_the_master_key_may_come_from_a_key_file_named_in_the_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_KEY)
    key_file = tmp_path / "master.key"
    key_file.write_text(new_master_key_text() + "\n")
    url = sqlite_url(tmp_path / "k.db") + f"?master_key_file={key_file}"
    with open_ledger(url) as ledger:
        ledger.append(subject_events())
    with open_ledger(url) as ledger:
        assert [r.erased for r in ledger.read()] == [(), (), (), ()]
    with pytest.raises(MasterKeyError):
        open_ledger(sqlite_url(tmp_path / "k.db"))


@pytest.mark.parametrize(
    ("text", "message"),
    [("not base64!!", "not valid base64"), (base64.b64encode(b"short").decode(), "32 bytes, this one is 5")],
)
def test_an_unusable_master_key_is_a_clear_error_that_never_shows_it(text: str, message: str) -> None:
    with pytest.raises(MasterKeyError, match=message) as caught:
        parse_master_key(text, "$RLEDGER_MASTER_KEY")
    assert text not in str(caught.value)


def test_a_missing_key_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MasterKeyError, match=r"key file .*nope\.key.*cannot be read"):
        load_master_key(str(tmp_path / "nope.key"), environ={})


def test_the_master_key_never_shows_in_its_repr(master_key: str) -> None:
    key = load_master_key()
    assert isinstance(key, MasterKey)
    assert master_key not in repr(key) and "RLEDGER_MASTER_KEY" in repr(key)


def test_a_backend_without_key_storage_refuses_subjects_and_writes_nothing(redis_url: str) -> None:
    with open_ledger(redis_url) as ledger:
        with pytest.raises(SubjectsUnsupportedError, match="cannot store events with a 'subject'"):
            ledger.append(subject_events())
        ledger.append(subject_events()[3:])  # events about nobody are stored as ever
        assert ledger.latest_offset() == 1


def test_an_event_over_the_size_limit_once_sealed_is_rejected() -> None:
    with open_ledger("memory://") as ledger:
        ledger.max_event_bytes = 600
        big = StateChanged(key="k", value="x" * 350, subject="alice")
        assert len(big.__pydantic_serializer__.to_json(big)) < 600
        with pytest.raises(BatchRejectedError, match=r"encrypted event is .* over the limit of 600"):
            ledger.append(big)
        assert ledger.latest_offset() == 0


def test_erased_fields_keep_their_json_shape() -> None:
    with open_ledger("memory://") as ledger:
        ledger.append(subject_events())
        ledger.forget("alice", reason="test")
        started, call = (r.event for r in ledger.read(limit=2))
    assert started.goal == ERASED and call.arguments == {ERASED: True}  # type: ignore[union-attr]


def _all() -> ReadQuery:
    return ReadQuery()


def test_a_reader_without_the_keys_decodes_sealed_fields_as_erased() -> None:
    from ledger.codec import decode

    with open_ledger("memory://") as ledger:
        ledger.append(subject_events())
        rows = list(ledger.read_rows(_all()))
    started, call = decode(rows[0].state), decode(rows[1].state)
    assert started.goal == ERASED and started.workflow_id == "wf-1"  # type: ignore[union-attr]
    assert call.arguments == {ERASED: True} and call.tool == "crm_lookup"  # type: ignore[union-attr]
    assert decode(rows[3].state).result == PLAIN_SECRET  # type: ignore[union-attr]
