"""The OTLP protobuf classes, loaded on first use so the core install does not need them."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from reliability.service.otlp.errors import OtlpExtraMissingError


def _load() -> tuple[ModuleType, ModuleType, ModuleType]:
    try:
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
        from opentelemetry.proto.common.v1 import common_pb2
        from opentelemetry.proto.trace.v1 import trace_pb2
    except ImportError:
        raise OtlpExtraMissingError from None
    return trace_service_pb2, trace_pb2, common_pb2


def export_request() -> Any:
    """A new, empty ``ExportTraceServiceRequest``."""
    return _load()[0].ExportTraceServiceRequest()


def export_response() -> Any:
    """A new, empty ``ExportTraceServiceResponse``."""
    return _load()[0].ExportTraceServiceResponse()


def parse_request(data: bytes) -> Any:
    """Parse protobuf bytes as an ``ExportTraceServiceRequest`` (raises protobuf's ``DecodeError``)."""
    return _load()[0].ExportTraceServiceRequest.FromString(data)


def parse_response(data: bytes) -> Any:
    """Parse protobuf bytes as an ``ExportTraceServiceResponse``."""
    return _load()[0].ExportTraceServiceResponse.FromString(data)


def decode_error() -> type[Exception]:
    """The exception protobuf raises on bytes that are not the message."""
    _load()
    from google.protobuf.message import DecodeError

    error: type[Exception] = DecodeError
    return error
