"""Each detector finds what it is for and leaves the near misses alone."""

from __future__ import annotations

import pytest

from ledger import Redactor, ToolCalled
from ledger.redaction import DETECTORS, luhn_ok
from ledger.redaction.detectors import prefilter


def masked(detector: str, text: str) -> str:
    """What one detector (masking) leaves of ``text`` in a tool call's argument."""
    redactor = Redactor({"detectors": [detector]})
    event = redactor.redact(ToolCalled(tool="t", arguments={"text": text}))
    value: str = event.arguments["text"]
    return value


@pytest.mark.parametrize(
    ("detector", "text", "secret"),
    [
        ("email", "write to bob.smith+x@mail.example.co.uk today", "bob.smith+x@mail.example.co.uk"),
        ("phone", "call +1 415-555-1234 now", "+1 415-555-1234"),
        ("phone", "call (415) 555-1234 now", "(415) 555-1234"),
        ("phone", "or +441632960961", "+441632960961"),
        ("credit_card", "card 4111 1111 1111 1111 ok", "4111 1111 1111 1111"),
        ("credit_card", "card 5500-0000-0000-0004 ok", "5500-0000-0000-0004"),
        ("credit_card", "amex 378282246310005", "378282246310005"),
        ("api_key", "Authorization: Bearer abcdefghijklmnop1234567890", "Bearer abcdefghijklmnop1234567890"),
        ("api_key", "key=sk-proj-abcdefghijklmnopqrstuvwx", "sk-proj-abcdefghijklmnopqrstuvwx"),
        ("api_key", "token ghp_" + "a1" * 18, "ghp_" + "a1" * 18),
        ("api_key", "aws AKIAIOSFODNN7EXAMPLE here", "AKIAIOSFODNN7EXAMPLE"),
        ("api_key", "slack xoxb-1234567890-abcdef", "xoxb-1234567890-abcdef"),
        ("api_key", "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N", None),
        ("ip", "from 192.168.10.254, port 22", "192.168.10.254"),
        ("ip", "v6 2001:db8::8a2e:370:7334 ok", "2001:db8::8a2e:370:7334"),
        ("ip", "loopback ::1 too", None),
    ],
)
def test_a_detector_masks_what_it_finds(detector: str, text: str, secret: str | None) -> None:
    out = masked(detector, text)

    assert f"[redacted:{detector}]" in out
    if secret is not None:
        assert secret not in out
        assert out == text.replace(secret, f"[redacted:{detector}]")


@pytest.mark.parametrize(
    ("detector", "text"),
    [
        ("email", "not an address: bob@localhost or @handle"),
        ("phone", "order 1234567890 and 2026-12-03 at 14:11:51"),
        ("credit_card", "order 4111 1111 1111 1112 (fails the Luhn check)"),
        ("credit_card", "a 12-digit 411111111111 is too short"),
        ("api_key", "sk-short and Bearer abc and ghp_tooshort"),
        ("ip", "version 1.2.3.4.5, 999.1.1.1, time 12:30:45"),
    ],
)
def test_a_near_miss_is_left_alone(detector: str, text: str) -> None:
    assert masked(detector, text) == text


def test_luhn() -> None:
    assert luhn_ok("4111111111111111")
    assert luhn_ok("79927398713")
    assert not luhn_ok("4111111111111112")
    assert not luhn_ok("79927398710")


def test_the_prefilter_finds_a_candidate_after_an_escape() -> None:
    # In the encoded event, a newline before an address is "\n": the pre-check must still see it.
    event = ToolCalled(tool="t", arguments={"text": "line\nbob@example.com"})
    may_hold = prefilter(["email"])
    assert may_hold is not None
    assert may_hold(event.model_dump_json().encode())
    assert masked("email", "line\nbob@example.com") == "line\n[redacted:email]"


def test_detectors_scan_only_free_form_fields() -> None:
    redactor = Redactor({"detectors": ["email"]})
    event = ToolCalled(tool="t", error="failed for bob@example.com", result={"who": "bob@example.com"})

    out = redactor.redact(event)

    assert out.error == "failed for bob@example.com"  # a named field: not scanned
    assert out.result == {"who": "[redacted:email]"}
    assert [(r.path, r.kind, r.by, r.action) for r in out.redactions] == [
        ("result.who", "detector", "email", "mask")
    ]


def test_a_switched_off_detector_finds_nothing() -> None:
    redactor = Redactor({"detectors": ["email"]})
    event = ToolCalled(tool="t", arguments={"text": "card 4111 1111 1111 1111 from 10.0.0.1"})

    assert redactor.redact(event) is event


@pytest.mark.parametrize(
    "text",
    [
        "plain words only",
        "mail bob@example.com",
        "call 415-555-1234",
        "card 4111-1111-1111-1111",
        "Bearer abc",
        "ghp_x and sk-y",
        "at 10.0.0.1",
        "v6 ::1",
        "time 12:30",
        "price 12.50 and 3 items",
    ],
)
def test_the_every_detector_precheck_agrees_with_the_detectors_own(text: str) -> None:
    data = ToolCalled(tool="t", arguments={"text": text}).model_dump_json().encode()
    all_at_once = prefilter(DETECTORS)
    one_by_one = [prefilter([name]) for name in DETECTORS]
    assert all_at_once is not None and all(one_by_one)

    assert all_at_once(data) == any(check(data) for check in one_by_one if check is not None)
