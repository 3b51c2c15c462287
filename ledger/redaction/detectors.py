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
    """One kind of sensitive text.

    Attributes:
        name: how a policy and the event's record name it.
        pattern: the regular expression of a candidate.
        check: confirms a candidate (``None``: every match counts).
    """

    name: str
    pattern: str
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

DETECTORS: dict[str, Detector] = {
    d.name: d
    for d in (
        Detector(
            "email", r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?!\w)"
        ),
        # Separated groups (+CC, area code, 3 + 4 digits) or E.164: a bare run of digits is not one.
        Detector(
            "phone",
            r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)|\d{3})[ .-]?\d{3}[ .-]\d{4}(?![\w])"
            r"|(?<![\w+])\+\d{7,14}(?!\w)",
        ),
        Detector("credit_card", r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])", _card),
        Detector(
            "api_key",
            r"(?i:\bbearer)\s+[A-Za-z0-9\-._~+/]{16,}=*"
            r"|\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}"
            r"|\bgh[pousr]_[A-Za-z0-9]{36,}"
            r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"
            r"|\bxox[abposr]-[A-Za-z0-9-]{10,}"
            r"|\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
        ),
        Detector(
            "ip",
            rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\w.])"
            r"|(?<![\w:.])(?:[0-9A-Fa-f]{1,4}:){1,7}(?::|(?::[0-9A-Fa-f]{1,4}){1,6}|[0-9A-Fa-f]{1,4})(?![\w:.])"
            r"|(?<![\w:.])::(?:[0-9A-Fa-f]{1,4}:){0,6}[0-9A-Fa-f]{1,4}(?![\w:.])",
            _ip,
        ),
    )
}
"""Every detector, by name: ``email``, ``phone``, ``credit_card`` (Luhn-checked), ``api_key``
(bearer tokens, OpenAI/Anthropic ``sk-…``, GitHub ``ghp_…``, AWS ``AKIA…``, Slack ``xox…``,
JWTs) and ``ip`` (IPv4 and IPv6, parsed)."""


_LOOSE = re.compile(r"\(\?<!\[[^\]]*\]\)|\\b")


def prefilter(names: Iterable[str]) -> re.Pattern[bytes] | None:
    """One bytes pattern finding any candidate of these detectors in an encoded event.

    It may find more than the detectors confirm (a UUID's digits, a time); it never finds less
    in a JSON string: the patterns are the same (ASCII classes in both) less their look-behinds
    and word boundaries, which an escape before the text (``\\n``) would defeat in the bytes.
    """
    patterns = [_LOOSE.sub("", DETECTORS[n].pattern) for n in names]
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{p})" for p in patterns).encode())
