"""What can be wrong with an OTLP request as a whole: each error knows the HTTP status it answers."""

from __future__ import annotations

from ledger import LedgerError


class OtlpError(LedgerError):
    """An OTLP request that cannot be taken at all; nothing of it is written.

    Attributes:
        status: the HTTP status to answer (400, 413 or 415).
        message: what is wrong, for the client.
    """

    status = 400

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class UndecodableBodyError(OtlpError):
    """The body is not an ``ExportTraceServiceRequest`` (truncated, not JSON, bad gzip)."""

    status = 400


class BodyTooLargeError(OtlpError):
    """The body, or what it decompresses to, is over the limit."""

    status = 413


class UnsupportedMediaTypeError(OtlpError):
    """The content type is neither OTLP protobuf nor OTLP JSON."""

    status = 415


class OtlpExtraMissingError(LedgerError, ImportError):
    """The OTLP protobuf classes are not installed (the ``otlp`` extra)."""

    def __init__(self) -> None:
        super().__init__(
            "OTLP needs the protobuf classes of opentelemetry-proto: pip install 'reliability-ledger[otlp]'"
        )
