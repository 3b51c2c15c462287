"""Policies: field rules on nested paths and list items, and each kind of bad policy refused by place."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger import RedactionPolicyError, Redactor, ToolCalled, WorkflowStarted
from ledger.redaction import HASH_PREFIX, keyed_hash, load_policy, parse_path


def test_rules_drop_mask_and_hash_nested_paths_and_list_items(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDACTION_KEY", "k1")
    redactor = Redactor(
        {
            "rules": [
                {"type": "ToolCalled", "path": "arguments.password", "action": "drop"},
                {"type": "ToolCalled", "path": "arguments.user.ssn", "action": "mask", "name": "ssn"},
                {"type": "ToolCalled", "path": "result.rows[*].email", "action": "hash"},
                {"type": "ToolCalled", "path": "result.rows[0].note", "action": "drop"},
            ],
            "hash_key_env": "REDACTION_KEY",
        }
    )
    event = ToolCalled(
        tool="lookup",
        arguments={"password": "hunter2", "user": {"ssn": "078-05-1120", "name": "Ann"}},
        result={"rows": [{"email": "a@x.io", "note": "n"}, {"email": "b@x.io"}, {"other": 1}]},
    )

    out = redactor.redact(event)

    assert out.arguments == {"user": {"ssn": "[redacted:ssn]", "name": "Ann"}}
    assert out.result == {
        "rows": [{"email": keyed_hash("a@x.io", b"k1")}, {"email": keyed_hash("b@x.io", b"k1")}, {"other": 1}]
    }
    assert [(r.path, r.action, r.by) for r in out.redactions] == [
        ("arguments.password", "drop", "rule[0]"),
        ("arguments.user.ssn", "mask", "ssn"),
        ("result.rows[0].email", "hash", "rule[2]"),
        ("result.rows[1].email", "hash", "rule[2]"),
        ("result.rows[0].note", "drop", "rule[3]"),
    ]
    # The caller's values are untouched: the redacted event is a copy.
    assert event.arguments["password"] == "hunter2"
    assert event.result["rows"][0]["email"] == "a@x.io"


def test_a_hash_is_keyed_and_the_same_value_gives_the_same_hash() -> None:
    one, again, other_key = (
        keyed_hash("a@x.io", b"k1"),
        keyed_hash("a@x.io", b"k1"),
        keyed_hash("a@x.io", b"k2"),
    )

    assert one == again != other_key
    assert one.startswith(HASH_PREFIX) and "a@x.io" not in one


def test_a_rule_for_every_type_applies_where_the_field_is() -> None:
    redactor = Redactor({"rules": [{"path": "input.token", "action": "mask"}]})

    started = redactor.redact(WorkflowStarted(workflow_id="w", input={"token": "t", "q": 1}))
    call = ToolCalled(tool="t", arguments={"token": "t"})

    assert started.input == {"token": "[redacted:rule[0]]", "q": 1}
    assert redactor.redact(call) is call


def test_a_policy_loads_from_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text('{"detectors": ["email", {"name": "ip", "action": "mask"}], "rules": []}')

    policy = load_policy(str(path))

    assert [(d.name, d.action) for d in policy.detectors] == [("email", "mask"), ("ip", "mask")]


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"detectors": ["email"], "detector": []}, "detector: unknown key"),
        ({"detectors": ["emails"]}, "unknown detector 'emails'"),
        ({"detectors": ["email", "email"]}, "detector 'email' is listed twice"),
        ({"detectors": [{"name": "email", "action": "drop"}]}, "detectors[0].action"),
        ({"rules": [{"type": "ToolCalled", "path": "arguments..x", "action": "drop"}]}, "rules[0].path"),
        ({"rules": [{"type": "ToolCalled", "path": "arguments.x", "action": "erase"}]}, "rules[0].action"),
        ({"rules": [{"type": "ToolCaled", "path": "arguments.x", "action": "drop"}]}, "unknown event type"),
        ({"rules": [{"type": "ToolCalled", "path": "input.x", "action": "drop"}]}, "ToolCalled has no field"),
        ({"rules": [{"type": "ToolCalled", "path": "workflow_id", "action": "mask"}]}, "cannot be redacted"),
        ({"rules": [{"type": "ToolCalled", "path": "tool", "action": "drop"}]}, "'tool' is required"),
        ({"rules": [{"type": "ToolCalled", "path": "error.x", "action": "mask"}]}, "not a free-form field"),
        ({"rules": [{"type": "ToolCalled", "path": "arguments.x", "action": "hash"}]}, "needs a key"),
        ({"hash_key": "s3cret", "rules": []}, "must not hold the hash key"),
        ({"marker": "[{value}]"}, "only the placeholder {name}"),
    ],
)
def test_a_bad_policy_is_refused_naming_the_place(policy: dict[str, object], message: str) -> None:
    with pytest.raises(RedactionPolicyError) as caught:
        Redactor(policy)

    assert message in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_a_missing_key_variable_or_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_KEY", raising=False)
    rule = {"type": "ToolCalled", "path": "arguments.x", "action": "hash"}
    with pytest.raises(RedactionPolicyError, match=r"\$NO_SUCH_KEY, which is not set"):
        Redactor({"rules": [rule], "hash_key_env": "NO_SUCH_KEY"})
    with pytest.raises(RedactionPolicyError, match="cannot read hash_key_file"):
        Redactor({"rules": [rule], "hash_key_file": str(tmp_path / "none")})
    key = tmp_path / "key"
    key.write_text("file-key\n")
    redactor = Redactor({"rules": [rule], "hash_key_file": str(key)})
    assert "file-key" not in repr(redactor)
    out = redactor.redact(ToolCalled(tool="t", arguments={"x": "v"}))
    assert out.arguments == {"x": keyed_hash("v", b"file-key")}


def test_a_missing_or_malformed_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RedactionPolicyError, match="cannot read it"):
        load_policy(str(tmp_path / "nope.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(RedactionPolicyError, match="not JSON"):
        load_policy(str(bad))


@pytest.mark.parametrize(
    ("path", "steps"),
    [
        ("arguments.password", ("arguments", "password")),
        ("messages[*].content", ("messages", "[*]", "content")),
        ("result.rows[2].a-b_c", ("result", "rows", 2, "a-b_c")),
        ("result.*.token", ("result", "*", "token")),
    ],
)
def test_paths_parse(path: str, steps: tuple[str | int, ...]) -> None:
    assert parse_path(path) == steps
