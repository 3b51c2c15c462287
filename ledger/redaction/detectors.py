"""Detectors of secrets and personal data in free-form text: one compiled pattern each, switchable.

Each :class:`Detector` is a regular expression, and for some a check of what it matched (a
credit-card number must pass the Luhn check; an IP address must parse), so a near miss (a
16-digit order number, a version string like ``1.2.3.4.5``) is left alone. The patterns are
also joined into one bytes pattern over the encoded event (:func:`prefilter`): an event in which
it finds nothing is not walked at all, which keeps a policy cheap on ingest.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["DETECTORS", "Detector", "luhn_ok", "prefilter"]


def luhn_ok(digits: str) -> bool:
    """Whether a string of digits passes the Luhn check (card numbers do; most numbers do not)."""
    total = 0
    for n, char in enumerate(reversed(digits)):
        d = ord(char) - 48
        if n % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(text: str) -> bool:
    digits = "".join(c for c in text if c.isdigit())
    return 13 <= len(digits) <= 19 and luhn_ok(digits)


def _ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Detector:
    r"""One kind of sensitive text.

    Attributes:
        name: how a policy and the event's record name it.
        pattern: the regular expression of a candidate.
        quick: a cheap test that an encoded event may hold a candidate (what :func:`prefilter`
            runs), given the event's bytes with every digit folded to ``0``: substring tests,
            which run at memory speed, where a regular expression starting with a class such as
            ``[\w.]+@`` or ``\d`` would be tried at every byte.
        check: confirms a candidate (``None``: every match counts).
    """

    name: str
    pattern: str
    quick: Callable[[bytes], bool]
    check: Callable[[str], bool] | None = None

    def compiled(self) -> re.Pattern[str]:
        """The compiled pattern (compiled once per process)."""
        return _compiled(self.pattern)


_CACHE: dict[str, re.Pattern[str]] = {}


def _compiled(pattern: str) -> re.Pattern[str]:
    found = _CACHE.get(pattern)
    if found is None:
        found = _CACHE[pattern] = re.compile(pattern, re.ASCII)
    return found


_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_FOLD = bytes.maketrans(b"123456789", b"000000000")
_GITHUB = re.compile(rb"gh[pousr]_")
_V4 = re.compile(rb"0\.0{1,3}\.0{1,3}\.0")

# Each quick test is implied by its pattern (a candidate always contains what it looks for) and
# looks at no byte before or after it, so an escape beside the text (``\n``) cannot hide one.


def _email_quick(folded: bytes) -> bool:
    return b"@" in folded


def _phone_quick(folded: bytes) -> bool:
    return b"000-0000" in folded or b"000 0000" in folded or b"000.0000" in folded or b"+0" in folded


def _card_quick(folded: bytes) -> bool:
    return folded.count(b"0") >= 13 and b"0" * 13 in folded.translate(None, b" -")


def _key_quick(folded: bytes) -> bool:
    lowered = folded.lower()  # "Bearer" in any case; the other marks are a superset lowered
    if b"bearer" in lowered or b"akia" in lowered or b"asia" in lowered or b"eyj" in lowered:
        return True
    # "sk-" and "xox?-" have a dash, GitHub's "gh?_" an underscore: look for them only then.
    if b"-" in folded and (b"sk-" in lowered or b"xox" in lowered):
        return True
    return b"_" in folded and _GITHUB.search(lowered) is not None


def _ip_quick(folded: bytes) -> bool:
    if b"0.0" in folded and _V4.search(folded):
        return True
    # In an event's JSON a ':' outside a string follows a key's closing quote; one that does
    # not is inside a string (a time, an IPv6 address: "::1" has a ':' after a ':').
    return folded.count(b":") > folded.count(b'":')


DETECTORS: dict[str, Detector] = {
    d.name: d
    for d in (
        Detector(
            "email",
            r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?!\w)",
            _email_quick,
        ),
        # Separated groups (+CC, area code, 3 + 4 digits) or E.164: a bare run of digits is not one.
        Detector(
            "phone",
            r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)|\d{3})[ .-]?\d{3}[ .-]\d{4}(?![\w])"
            r"|(?<![\w+])\+\d{7,14}(?!\w)",
            _phone_quick,
        ),
        Detector("credit_card", r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])", _card_quick, _card),
        Detector(
            "api_key",
            r"(?i:\bbearer)\s+[A-Za-z0-9\-._~+/]{16,}=*"
            r"|\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}"
            r"|\bgh[pousr]_[A-Za-z0-9]{36,}"
            r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"
            r"|\bxox[abposr]-[A-Za-z0-9-]{10,}"
            r"|\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
            _key_quick,
        ),
        Detector(
            "ip",
            rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\w.])"
            r"|(?<![\w:.])(?:[0-9A-Fa-f]{1,4}:){1,7}(?::|(?::[0-9A-Fa-f]{1,4}){1,6}|[0-9A-Fa-f]{1,4})(?![\w:.])"
            r"|(?<![\w:.])::(?:[0-9A-Fa-f]{1,4}:){0,6}[0-9A-Fa-f]{1,4}(?![\w:.])",
            _ip_quick,
            _ip,
        ),
    )
}
"""Every detector, by name: ``email``, ``phone``, ``credit_card`` (Luhn-checked), ``api_key``
(bearer tokens, OpenAI/Anthropic ``sk-…``, GitHub ``ghp_…``, AWS ``AKIA…``, Slack ``xox…``,
JWTs) and ``ip`` (IPv4 and IPv6, parsed)."""


def prefilter(names: Iterable[str]) -> Callable[[bytes], bool] | None:
    """One test of whether encoded JSON (an event's free-form values) may hold a candidate of
    any of these detectors (``None`` when none is switched on).

    It may say yes where the detectors then find nothing (a time, a long number); it never
    says no where they would find something.
    """
    chosen = set(names)
    if not chosen:
        return None
    quicks = tuple(DETECTORS[n].quick for n in DETECTORS if n in chosen)
    if chosen == set(DETECTORS):
        return _may_hold_any  # every detector (the usual policy): one inlined test

    def may_hold(data: bytes) -> bool:
        folded = data.translate(_FOLD)
        return any(quick(folded) for quick in quicks)

    return may_hold


def _may_hold_any(data: bytes) -> bool:
    """The quick tests of every detector in one function (a call each shows on ingest)."""
    f = data.translate(_FOLD)
    if b"@" in f or b"+0" in f or b"000-0000" in f or b"000 0000" in f or b"000.0000" in f:
        return True
    if f.count(b":") > f.count(b'":') or (b"0.0" in f and _V4.search(f) is not None):
        return True
    return _card_quick(f) or _key_quick(f)
