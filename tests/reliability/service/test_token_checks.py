"""A token's scrypt check runs in a worker thread, never on the event loop every request shares."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from reliability.service import ServiceConfig, TokenStore, create_app, create_token
from reliability.service import tokens as tokens_module
from tests.conftest import sqlite_url


def test_only_a_token_with_a_known_key_and_no_verdict_yet_needs_scrypt(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    _entry, token = create_token(path, "read", "reader")
    store = TokenStore(path)
    key_id = token.removeprefix("rlt_").partition("_")[0]

    assert store.is_remembered("not-a-token") and store.is_remembered("rlt_unknownkey_secret")
    assert not store.is_remembered(token)
    assert not store.is_remembered(f"rlt_{key_id}_wrong-secret")
    assert store.authenticate(token) is not None and store.authenticate(f"rlt_{key_id}_wrong-secret") is None
    assert store.is_remembered(token) and store.is_remembered(f"rlt_{key_id}_wrong-secret")


def test_the_server_runs_each_scrypt_check_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tokens.json"
    _entry, token = create_token(path, "read", "reader")
    key_id = token.removeprefix("rlt_").partition("_")[0]
    on_loop: list[bool] = []
    real_hash = tokens_module._hash

    def recording_hash(secret: str, salt: bytes) -> bytes:
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:  # no loop runs in this thread: a worker thread
            on_loop.append(False)
        return real_hash(secret, salt)

    monkeypatch.setattr(tokens_module, "_hash", recording_hash)
    app = create_app(ServiceConfig(url=sqlite_url(tmp_path / "t.db"), tokens=path))
    with TestClient(app) as client:
        good = {"Authorization": f"Bearer {token}"}
        assert client.get("/v1/workflows", headers=good).status_code == 200
        assert client.get("/v1/workflows", headers=good).status_code == 200  # remembered: no scrypt
        for n in range(3):
            bad = {"Authorization": f"Bearer rlt_{key_id}_wrong-{n}"}
            assert client.get("/v1/workflows", headers=bad).status_code == 401

    assert on_loop == [False] * 4  # one check per distinct token, each in a worker thread
