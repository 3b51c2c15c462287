"""POST an OTLP/HTTP trace export to any endpoint and read its answer (``rledger export --otlp``)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from ledger import LedgerError
from reliability.service.otlp import proto


class OtlpExportError(LedgerError):
    """The endpoint did not take the export (unreachable, or an HTTP error status)."""

    def __init__(self, url: str, detail: str) -> None:
        self.url = url
        self.detail = detail
        super().__init__(f"OTLP export to {url} failed: {detail}")


@dataclass(frozen=True)
class ExportOutcome:
    """What the endpoint said: how many spans it rejected, and why."""

    status: int
    rejected_spans: int
    error_message: str


def send_otlp(url: str, body: bytes, *, timeout: float = 30.0) -> ExportOutcome:
    """POST ``body`` (a protobuf ``ExportTraceServiceRequest``) to ``url``, e.g. ``http://host:4318/v1/traces``.

    Raises:
        OtlpExportError: the endpoint cannot be reached or answers with an error status.
    """
    try:
        response = httpx.post(
            url, content=body, headers={"Content-Type": "application/x-protobuf"}, timeout=timeout
        )
    except httpx.HTTPError as exc:
        raise OtlpExportError(url, str(exc) or type(exc).__name__) from None
    if response.status_code >= 300:
        raise OtlpExportError(url, f"HTTP {response.status_code}: {response.text[:500]}")
    rejected, message = 0, ""
    if response.content and "protobuf" in response.headers.get("content-type", ""):
        answer = proto.parse_response(response.content)
        rejected = answer.partial_success.rejected_spans
        message = answer.partial_success.error_message
    return ExportOutcome(response.status_code, rejected, message)
