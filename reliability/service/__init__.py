"""The ledger as a service: what a server in front of the ledger answers (OTLP ingest in ``otlp``)."""

__all__: list[str] = []
