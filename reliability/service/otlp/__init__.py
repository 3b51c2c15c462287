"""OTLP GenAI ingest and export: OpenTelemetry GenAI spans in, ledger events out — and back.

``ingest_otlp`` takes one OTLP/HTTP trace export (what ``POST /v1/traces`` receives) into a
ledger; ``workflow_spans`` and ``encode_spans`` turn a recorded workflow into GenAI spans, and
``send_otlp`` POSTs them to any OTLP/HTTP endpoint (``rledger export --otlp URL``). The protobuf
classes come from the ``otlp`` extra (``opentelemetry-proto``); without it these raise
``OtlpExtraMissingError``.
"""

from reliability.service.otlp.answer import OtlpAnswer
from reliability.service.otlp.encode import encode_spans, trace_id_of, workflow_spans
from reliability.service.otlp.errors import (
    BodyTooLargeError,
    OtlpError,
    OtlpExtraMissingError,
    UndecodableBodyError,
    UnsupportedMediaTypeError,
)
from reliability.service.otlp.genai import NAMESPACE, event_id
from reliability.service.otlp.ingest import ingest_otlp, ingest_otlp_sync
from reliability.service.otlp.send import ExportOutcome, OtlpExportError, send_otlp
from reliability.service.otlp.spans import SpanRecord

__all__ = [
    "NAMESPACE",
    "BodyTooLargeError",
    "ExportOutcome",
    "OtlpAnswer",
    "OtlpError",
    "OtlpExportError",
    "OtlpExtraMissingError",
    "SpanRecord",
    "UndecodableBodyError",
    "UnsupportedMediaTypeError",
    "encode_spans",
    "event_id",
    "ingest_otlp",
    "ingest_otlp_sync",
    "send_otlp",
    "trace_id_of",
    "workflow_spans",
]
