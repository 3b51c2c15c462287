"""LangGraph's ``Command`` and ``Send`` as the ledger stores them, and rebuilt for a replay.

A tool (or a node calling one) may return a ``Command`` — a state update and a route — instead of
a plain result. Its ``ToolCalled.result`` holds the Command's fields, each value encoded as
``replay.values`` encodes it (a message as its pydantic form, bytes as base64, …)::

    {"__ledger_value__": "langgraph.command", "graph": None | "__parent__",
     "update": …, "update_pairs": True (only for an update given as (key, value) pairs),
     "goto": "node" | [..] | {"__ledger_value__": "langgraph.send", "node": …, "arg": …},
     "resume": …}

A replay serves a real ``Command`` (and real ``Send`` objects) back, so the graph takes the
recorded route. Importing :mod:`reliability.integrations.langgraph` registers both kinds.
"""

from __future__ import annotations

from typing import Any

from langgraph.types import Command, Send

from replay import from_json_value, register_value_kind, to_json_value

COMMAND = "langgraph.command"
SEND = "langgraph.send"


def _is_pairs(update: Any) -> bool:
    # LangGraph's other update form: (key, value) tuples (JSON keeps them only as arrays).
    return (
        isinstance(update, list | tuple)
        and bool(update)
        and all(isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) for p in update)
    )


def encode_command(command: Command[Any]) -> dict[str, Any]:
    """A Command's fields as JSON (see the module docstring)."""
    out: dict[str, Any] = {
        "graph": command.graph,
        "update": to_json_value(command.update),
        "goto": to_json_value(command.goto),  # a Send in it is encoded by its own kind
        "resume": to_json_value(command.resume),
    }
    if _is_pairs(command.update):
        out["update_pairs"] = True
    return out


def decode_command(stored: dict[str, Any]) -> Command[Any]:
    """The Command :func:`encode_command` stored."""
    update = from_json_value(stored.get("update"))
    if stored.get("update_pairs"):
        update = [(str(key), value) for key, value in update]
    goto = from_json_value(stored.get("goto", ()))
    resume = from_json_value(stored.get("resume"))
    return Command(graph=stored.get("graph"), update=update, goto=goto, resume=resume)


def encode_send(send: Send) -> dict[str, Any]:
    """A Send's node and argument as JSON."""
    return {"node": send.node, "arg": to_json_value(send.arg)}


def decode_send(stored: dict[str, Any]) -> Send:
    """The Send :func:`encode_send` stored."""
    return Send(str(stored["node"]), from_json_value(stored.get("arg")))


register_value_kind(COMMAND, Command, encode_command, decode_command)
register_value_kind(SEND, Send, encode_send, decode_send)
