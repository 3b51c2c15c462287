"""The events' JSON Schema as a file shipped in the package: ``rledger schema`` prints it as is.

Building the schema needs pydantic and every event model (a quarter of a second); printing a
file does not. The file is generated from :func:`ledger.events.event_json_schema` (``python -m
ledger.schema_file`` writes it) and ``tests/ledger/test_schema_file.py`` fails when it is stale.
"""

from __future__ import annotations

from pathlib import Path

SCHEMA_FILE = Path(__file__).with_name("event_schema.json")


def stored_event_schema() -> bytes:
    """Return the JSON Schema of the events as stored in the package (indented JSON, newline-ended)."""
    return SCHEMA_FILE.read_bytes()


def render_event_schema() -> bytes:
    """Return what the stored file must hold: the schema built from the models, encoded."""
    import orjson

    from ledger.events import event_json_schema

    return orjson.dumps(event_json_schema(), option=orjson.OPT_INDENT_2) + b"\n"


if __name__ == "__main__":
    SCHEMA_FILE.write_bytes(render_event_schema())
