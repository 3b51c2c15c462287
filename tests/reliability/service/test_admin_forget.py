"""``POST /v1/admin/forget``: an admin token crypto-shreds a subject; any other token is refused."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.conftest import sqlite_url
from tests.ledger.keys.conftest import ALICE_SECRET, BOB_SECRET, master_key, subject_events  # noqa: F401 - the fixture
from tests.reliability.service.conftest import StartServer

pytestmark = pytest.mark.usefixtures("master_key")


def _body() -> bytes:
    return orjson.dumps([e.model_dump(mode="json") for e in subject_events()])  # type: ignore[attr-defined]


def test_forget_needs_an_admin_token_and_erases_the_subject(serve: StartServer, tmp_path: Path) -> None:
    server = serve(sqlite_url(tmp_path / "s.db"))
    request = {"subject": "alice", "reason": "erasure request #9"}
    with server.client("ingest") as ingest:
        assert (
            ingest.post(
                "/v1/events", content=_body(), headers={"Content-Type": "application/json"}
            ).status_code
            == 200
        )
        refused = ingest.post("/v1/admin/forget", json=request)
    assert refused.status_code == 403 and "needs 'admin'" in refused.json()["error"]
    with server.client("read") as read:
        assert read.post("/v1/admin/forget", json=request).status_code == 403
        before = read.get("/v1/events").text
    with server.client(None) as anonymous:
        assert anonymous.post("/v1/admin/forget", json=request).status_code == 401
    assert ALICE_SECRET in str(before)  # nothing was forgotten by the refused requests
    with server.client("admin") as admin:
        answer = admin.post("/v1/admin/forget", json=request)
        events = [orjson.loads(line) for line in admin.get("/v1/events").text.splitlines()]
    assert answer.status_code == 200
    body = answer.json()
    assert body["keys_destroyed"] == 1 and body["offset"] == 5 and body["subject_ref"].startswith("sub:")
    records = events
    assert ALICE_SECRET not in str(records) and BOB_SECRET in str(records)
    assert records[0]["erased"] == ["goal", "input"]
    forgotten = records[-1]
    assert forgotten["type"] == "SubjectForgotten" and forgotten["by"] == "admin"
    assert forgotten["reason"] == "erasure request #9"


def test_a_bad_forget_request_lists_its_problems(serve: StartServer, tmp_path: Path) -> None:
    server = serve(sqlite_url(tmp_path / "b.db"))
    with server.client("admin") as admin:
        answer = admin.post("/v1/admin/forget", json={"subject": "", "why": "x"})
    assert answer.status_code == 422
    fields = {p["field"] for p in answer.json()["problems"]}
    assert fields == {"subject", "reason", "why"}


def test_the_openapi_document_lists_the_forget_endpoint(serve: StartServer, tmp_path: Path) -> None:
    server = serve(sqlite_url(tmp_path / "o.db"))
    with server.client(None) as anonymous:
        document = anonymous.get("/openapi.json").json()
    post = document["paths"]["/v1/admin/forget"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ForgetRequest"
    }
    assert {"401", "403", "422"} <= set(post["responses"])
