"""Decoding OTLP bodies: protobuf, JSON with hex ids, gzip; bad ids reject a span, a bad body all of it."""

from __future__ import annotations

import gzip
import subprocess
import sys
from collections.abc import Iterator

import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from ledger import Ledger, open_ledger
from reliability.service.otlp import ingest_otlp_sync
from tests.reliability.service.otlp.build import TRACE, Span, agent_run, json_body, json_doc, protobuf

PB = "application/x-protobuf"
JSON = "application/json"


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    with open_ledger("memory://") as opened:
        yield opened


def stored(ledger: Ledger) -> list[dict[str, object]]:
    return [r.event.model_dump(mode="json") for r in ledger.read()]


def test_protobuf_and_json_bodies_give_the_same_events(ledger: Ledger) -> None:
    with open_ledger("memory://") as other:
        a = ingest_otlp_sync(ledger, protobuf(agent_run()), content_type=PB)
        b = ingest_otlp_sync(other, json_body(agent_run()), content_type=JSON)

        assert (a.status, a.events_written) == (200, 5)
        assert (b.status, b.events_written) == (200, 5)
        assert stored(ledger) == stored(other)
    assert {e["workflow_id"] for e in stored(ledger)} == {"conv-1"}


def test_json_hex_ids_are_decoded_as_hex_not_base64(ledger: Ledger) -> None:
    # json_format.Parse would read these as base64 and produce other bytes.
    spans = agent_run(conversation=None)

    ingest_otlp_sync(ledger, json_body(spans), content_type=JSON)

    assert {e["workflow_id"] for e in stored(ledger)} == {TRACE}


def test_a_gzip_body_is_inflated(ledger: Ledger) -> None:
    answer = ingest_otlp_sync(
        ledger, gzip.compress(protobuf(agent_run())), content_type=PB, content_encoding="gzip"
    )

    assert (answer.status, answer.events_written) == (200, 5)


@pytest.mark.parametrize(
    ("trace_id", "span_id", "why"),
    [
        (
            "0af7651916cd43dd8448eb211c80319",
            "1000000000000009",
            "traceId '0af7651916cd43dd8448eb211c80319' is not 32 hex digits",
        ),
        (TRACE, "10000000000000zz", "spanId '10000000000000zz' is not 16 hex digits"),
        ("0" * 32, "1000000000000009", "traceId is all zeros"),
        (TRACE, "CvdlGRbNQ90=", "spanId 'CvdlGRbNQ90=' is not 16 hex digits"),  # base64, not hex
    ],
)
def test_a_json_span_with_a_bad_id_is_rejected_with_its_reason(
    ledger: Ledger, trace_id: str, span_id: str, why: str
) -> None:
    bad = Span(span_id, "execute_tool search", {"gen_ai.operation.name": "execute_tool"}, trace_id=trace_id)

    answer = ingest_otlp_sync(ledger, json_body([*agent_run(), bad]), content_type=JSON)

    assert answer.status == 200
    assert (answer.spans_accepted, answer.spans_rejected, answer.events_written) == (4, 1, 5)
    partial = orjson.loads(answer.body)["partialSuccess"]
    assert partial["rejectedSpans"] == "1"
    assert why in partial["errorMessage"] and "span 4 ('execute_tool search')" in partial["errorMessage"]


def test_a_protobuf_span_with_a_short_id_is_rejected(ledger: Ledger) -> None:
    body = bytearray(protobuf([Span("10000000000000", "chat x", {"gen_ai.operation.name": "chat"})]))

    answer = ingest_otlp_sync(ledger, bytes(body), content_type=PB)

    response = ExportTraceServiceResponse.FromString(answer.body)
    assert response.partial_success.rejected_spans == 1
    assert "span_id has 7 bytes, not 8" in response.partial_success.error_message
    assert stored(ledger) == []


def test_a_truncated_protobuf_body_is_400_and_writes_nothing(ledger: Ledger) -> None:
    body = protobuf(agent_run())

    answers = [ingest_otlp_sync(ledger, body[:cut], content_type=PB) for cut in (len(body) - 7, 40, 3)]

    assert [a.status for a in answers] == [400, 400, 400]
    assert all(a.media_type == PB and b"not a protobuf ExportTraceServiceRequest" in a.body for a in answers)
    assert stored(ledger) == []


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"{not json", "the body is not JSON"),
        (b"[1, 2]", "not an OTLP ExportTraceServiceRequest object"),
        (b'{"resourceSpans": 3}', "request.resourceSpans is not a list"),
    ],
)
def test_an_undecodable_json_body_is_400_with_its_reason(ledger: Ledger, body: bytes, why: str) -> None:
    answer = ingest_otlp_sync(ledger, body, content_type=JSON)

    assert answer.status == 400
    assert why in orjson.loads(answer.body)["error"]
    assert stored(ledger) == []


def test_another_content_type_is_415(ledger: Ledger) -> None:
    answer = ingest_otlp_sync(ledger, json_body(agent_run()), content_type="text/plain")

    assert answer.status == 415
    assert "application/x-protobuf or application/json" in orjson.loads(answer.body)["error"]
    assert stored(ledger) == []


def test_broken_gzip_is_400_and_a_gzip_bomb_is_413(ledger: Ledger) -> None:
    broken = ingest_otlp_sync(ledger, b"\x1f\x8b not gzip", content_type=PB, content_encoding="gzip")
    bomb = ingest_otlp_sync(
        ledger,
        gzip.compress(b"\x00" * 2_000_000),
        content_type=PB,
        content_encoding="gzip",
        max_decoded_bytes=1_000_000,
    )
    unknown = ingest_otlp_sync(ledger, protobuf(agent_run()), content_type=PB, content_encoding="br")

    assert (broken.status, bomb.status, unknown.status) == (400, 413, 400)
    assert b"inflates to more than 1000000 bytes" in bomb.body
    assert stored(ledger) == []


def test_json_accepts_enum_names_and_integer_strings(ledger: Ledger) -> None:
    doc = json_doc(agent_run())
    span = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][2]
    span["status"] = {"code": "STATUS_CODE_ERROR", "message": "timeout"}

    ingest_otlp_sync(ledger, orjson.dumps(doc), content_type="application/json; charset=utf-8")

    tool = next(e for e in stored(ledger) if e["type"] == "ToolCalled")
    assert (tool["success"], tool["error"]) == (False, "timeout")


def test_without_the_otlp_extra_the_error_names_it() -> None:
    # A fresh interpreter in which opentelemetry.proto cannot be imported (as on a core install).
    code = (
        "import sys; sys.modules['opentelemetry.proto'] = None\n"
        "from ledger import open_ledger\n"
        "from reliability.service.otlp import OtlpExtraMissingError, ingest_otlp_sync\n"
        "try:\n"
        "    ingest_otlp_sync(open_ledger('memory://'), b'', content_type='application/x-protobuf')\n"
        "except OtlpExtraMissingError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )

    assert "pip install 'reliability-ledger[otlp]'" in done.stdout


def test_a_resource_with_bad_attributes_is_400(ledger: Ledger) -> None:
    body = orjson.dumps({"resourceSpans": [{"resource": {"attributes": [{"key": 1}]}, "scopeSpans": []}]})

    answer = ingest_otlp_sync(ledger, body, content_type=JSON)

    assert answer.status == 400
    assert "without a string key" in orjson.loads(answer.body)["error"]


def test_a_long_span_name_is_cut_in_the_rejection_and_a_large_body_is_413(ledger: Ledger) -> None:
    bad = Span("1000000000000009", "x" * 10_000, {"gen_ai.operation.name": "execute_tool"}, trace_id="0" * 32)

    answer = ingest_otlp_sync(ledger, json_body([bad]), content_type=JSON)
    big = ingest_otlp_sync(ledger, protobuf(agent_run()), content_type=PB, max_decoded_bytes=100)

    message = orjson.loads(answer.body)["partialSuccess"]["errorMessage"]
    assert message.startswith("span 0 ('" + "x" * 80 + "…')") and len(message) < 200
    assert big.status == 413 and stored(ledger) == []
