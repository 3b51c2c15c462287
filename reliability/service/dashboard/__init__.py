"""The dashboard: web pages in ``rledger serve`` and ``rledger report --html``, drawn by one script.

The data side (:class:`DashboardData`, :class:`SignalIndex`, :func:`snapshot`) and the pages
(:func:`page_html`, :func:`report_html`) need no web framework; the routes that serve them live
in ``routes.py``, imported by the app.
"""

from reliability.service.dashboard.data import METRICS, DashboardData, bucket_for
from reliability.service.dashboard.page import (
    STATIC_FILES,
    UPLOT_VERSION,
    page_html,
    report_html,
    static_file,
)
from reliability.service.dashboard.signals import SignalIndex
from reliability.service.dashboard.snapshot import choose_workflows, snapshot, write_html_report

__all__ = [
    "METRICS",
    "STATIC_FILES",
    "UPLOT_VERSION",
    "DashboardData",
    "SignalIndex",
    "bucket_for",
    "choose_workflows",
    "page_html",
    "report_html",
    "snapshot",
    "static_file",
    "write_html_report",
]
