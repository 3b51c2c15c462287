"""The dashboard's one HTML page: linked to its static files when served, or self-contained (``--html``).

Both are the same page and the same script (``static/dashboard.js``): served, the script fetches
the ``/v1/...`` JSON and follows the event stream; self-contained, the data is inlined as JSON
beside the inlined scripts and styles, so the file opens from ``file://`` with no network.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import orjson

__all__ = ["STATIC_FILES", "UPLOT_VERSION", "page_html", "report_html", "static_file"]

UPLOT_VERSION = "1.6.32"
"""The vendored uPlot (MIT licence, ``static/uPlot.LICENSE``), from the npm registry."""

STATIC_FILES = {
    "uPlot.iife.min.js": "text/javascript; charset=utf-8",
    "uPlot.min.css": "text/css; charset=utf-8",
    "uPlot.LICENSE": "text/plain; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}
"""Every file ``/static/`` serves, with its media type; nothing else is served from the folder."""

CSP = (
    "default-src 'none'; script-src 'self'{inline}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'"
)


def static_file(name: str) -> bytes:
    """The bytes of one of :data:`STATIC_FILES` (shipped as package data)."""
    if name not in STATIC_FILES:
        raise KeyError(name)
    return resources.files(__package__).joinpath("static", name).read_bytes()


def _script_json(data: Any) -> str:
    # Inside <script>, "</" would end the element early: JSON allows "\/" for "/".
    return orjson.dumps(data).decode().replace("</", "<\\/")


AUTH = ' data-auth="token"'


def _shell(head: str, body_data: str, auth: bool = False) -> str:
    return (
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="color-scheme" content="light dark">\n'
        "<title>rledger dashboard</title>\n"
        '<link rel="icon" href="data:,">\n'
        f"{head}</head>\n<body{AUTH if auth else ''}>\n"
        '<header id="top"><a class="brand" href="#/">rledger</a><nav id="nav"></nav>'
        '<span id="live" aria-live="polite"></span></header>\n'
        '<main id="app"><p class="muted">Loading…</p></main>\n'
        f"{body_data}</body>\n</html>\n"
    )


def page_html(*, auth: bool = False) -> str:
    """The served page: styles and scripts from ``/static/``, data from the JSON API.

    ``auth``: the server wants a token, so the script asks for one before it fetches anything.
    """
    head = (
        f'<meta http-equiv="Content-Security-Policy" content="{CSP.format(inline="")}">\n'
        '<link rel="stylesheet" href="/static/uPlot.min.css">\n'
        '<link rel="stylesheet" href="/static/dashboard.css">\n'
        '<script src="/static/uPlot.iife.min.js" defer></script>\n'
        '<script src="/static/dashboard.js" defer></script>\n'
    )
    return _shell(head, "", auth)


def report_html(data: dict[str, Any]) -> str:
    """One self-contained page: the scripts, styles and ``data`` inlined; it loads nothing."""
    styles = static_file("uPlot.min.css").decode() + "\n" + static_file("dashboard.css").decode()
    scripts = "".join(
        "<script>\n" + static_file(name).decode().replace("</script", "<\\/script") + "\n</script>\n"
        for name in ("uPlot.iife.min.js", "dashboard.js")
    )
    csp = CSP.format(inline=" 'unsafe-inline'").replace("connect-src 'self'", "connect-src 'none'")
    head = f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n<style>\n{styles}\n</style>\n'
    body = f'<script type="application/json" id="rledger-data">{_script_json(data)}</script>\n{scripts}'
    return _shell(head, body)
