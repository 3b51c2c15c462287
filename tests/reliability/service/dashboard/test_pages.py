"""The dashboard in a real browser (Debian's chromium) against ``rledger serve`` on a demo ledger.

Every page loads without a console error and shows the numbers ``/v1/report``, ``/v1/workflows``
and ``/v1/signals`` answer; a workflow's page shows its trail; an event appended while a page is
open shows within 2 s; screenshots at desktop and phone width are written to the test's tmp
folder and checked not to be blank.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.reliability.service.conftest import Server
from tests.reliability.service.dashboard.conftest import png_colours

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
PAGES = ["#/", "#/agents", "#/workflows", "#/costs", "#/breakers", "#/agents/executor"]
PAGES += ["#/workflows/ticket-0-1"]
NUMBERS = "els => els.map(e => [e.dataset.key, e.dataset.value])"


class Page:
    """A browser tab on the dashboard that records console errors and page errors."""

    def __init__(self, browser: Any, base: str, token: str | None, **context: Any) -> None:
        self.context = browser.new_context(**context)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.base = base
        self.token = token

    def open(self, hash_: str) -> Any:
        """Go to a page (entering the token when it asks for one) and wait until it has rendered."""
        if self.page.url.startswith(self.base):
            self.page.evaluate("h => { location.hash = h }", hash_)
        else:
            self.page.goto(self.base + "/" + hash_)
            if self.token is not None:
                self.page.wait_for_selector("#token-form")
                self.page.fill("input[name=token]", self.token)
                self.page.click("#token-form button")
        self.page.wait_for_function("h => document.body.dataset.rendered === h", arg=hash_, timeout=15_000)
        return self.page

    def values(self) -> dict[str, str]:
        """Every number on the page: its key and the raw value it shows."""
        pairs = self.page.eval_on_selector_all(".num", NUMBERS)
        return dict(pairs)

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="module")
def api(demo_server: Server) -> Iterator[httpx.Client]:
    with demo_server.client("read") as client:
        yield client


@pytest.fixture
def tab(browser: Any, demo_server: Server) -> Iterator[Page]:
    page = Page(browser, demo_server.base, demo_server.token["read"], viewport=DESKTOP)
    yield page
    page.close()


def same(shown: str, value: Any) -> bool:
    """Whether a page's ``data-value`` is the API's JSON value (numbers as numbers, money exactly)."""
    if value is None:
        return shown == "null"
    if isinstance(value, int | float):
        return float(shown) == float(value)
    return bool(shown == value)


def pct(value: float | None) -> str:
    return "no data" if value is None else f"{value * 100:.2f}%"


def test_the_page_asks_for_a_token_and_refuses_a_wrong_one(browser: Any, demo_server: Server) -> None:
    page = Page(browser, demo_server.base, None, viewport=DESKTOP)
    try:
        page.page.goto(demo_server.base + "/")
        page.page.wait_for_selector("#token-form")
        page.page.fill("input[name=token]", "rl_not-a-token")
        page.page.click("#token-form button")
        # Asked again, saying why: nothing is shown without a valid token.
        page.page.wait_for_function("() => document.querySelector('#app').innerText.includes('not valid')")
        assert page.page.query_selector("#token-form")
        assert not page.page.query_selector(".num")
    finally:
        page.close()


def test_the_overview_shows_the_report_numbers(tab: Page, api: httpx.Client) -> None:
    page = tab.open("#/")
    report = api.get("/v1/report").json()
    shown = tab.values()
    for metric in ("svr", "cr", "pc", "hir", "ma", "tcl", "wct"):
        assert same(shown[f"metrics.{metric}"], report["metrics"][metric]), metric
    for metric in ("svr", "cr", "hir", "ma"):
        text = page.inner_text(f'[data-key="metrics.{metric}"]')
        assert text == pct(report["metrics"][metric])
    assert same(shown["slo.rsr"], report["slo"]["rsr"])
    assert shown["costs.total_cost"] == report["costs"]["total_cost"]
    assert page.inner_text('[data-key="slo.mtte_p95_ms"]') == "no data"  # the demo explains nothing
    budget = report["costs"]["budgets"][0]
    assert shown["budget.daily.spend"] == budget["spend"]
    verdict = page.inner_text("#verdict")
    assert ("Unhealthy" in verdict) == (report["health"]["healthy"] is False)
    assert all(v in verdict for v in report["health"]["violations"])
    assert page.locator(".metric canvas").count() >= 7  # a uPlot chart per metric
    assert "payments: open" in page.inner_text("main")  # the open breakers
    stored = page.evaluate("() => localStorage.length + sessionStorage.length + document.cookie.length")
    assert stored == 0  # the token is kept in the page's memory only
    assert tab.errors == []


def test_agents_show_the_report_numbers_and_sort(tab: Page, api: httpx.Client) -> None:
    page = tab.open("#/agents")
    report = api.get("/v1/report").json()
    shown = tab.values()
    agents = report["metrics"]["agent_metrics"]
    for name, numbers in agents.items():
        for key in ("svr", "cr", "ma", "tcl", "total_steps"):
            assert same(shown[f"agent.{name}.{key}"], numbers[key]), (name, key)
        assert same(shown[f"agent.{name}.cost"], report["costs"]["cost_by_agent"].get(name))
    page.click('th[data-sort="svr"]')
    order = page.eval_on_selector_all("tr[data-agent]", "rows => rows.map(r => r.dataset.agent)")
    measured = sorted((n for n in agents if agents[n]["svr"] is not None), key=lambda n: agents[n]["svr"])
    assert order[: len(measured)] == measured
    assert page.locator("td.spark canvas").count() >= 1
    assert tab.errors == []


def test_the_workflow_list_matches_the_api_and_filters(tab: Page, api: httpx.Client) -> None:
    page = tab.open("#/workflows")
    listed = api.get("/v1/workflows", params={"limit": 10000}).json()["workflows"]
    rows = page.eval_on_selector_all("tr[data-workflow]", "rows => rows.map(r => r.dataset.workflow)")
    assert sorted(rows) == sorted(w["workflow_id"] for w in listed)
    page.select_option("select[name=outcome]", "failed")
    failed = page.eval_on_selector_all("tr[data-workflow]", "rows => rows.map(r => r.dataset.workflow)")
    assert sorted(failed) == sorted(w["workflow_id"] for w in listed if w["outcome"] == "failed")
    page.select_option("select[name=outcome]", "")
    page.select_option("select[name=agent]", "executor")
    by_agent = api.get("/v1/workflows", params={"limit": 10000, "agent": "executor"}).json()["workflows"]
    rows = page.eval_on_selector_all("tr[data-workflow]", "rows => rows.map(r => r.dataset.workflow)")
    assert sorted(rows) == sorted(w["workflow_id"] for w in by_agent) and 0 < len(rows) < len(listed)
    assert tab.errors == []


def test_clicking_a_workflow_shows_its_trail_with_evidence_counts_by_grade(
    tab: Page, api: httpx.Client
) -> None:
    page = tab.open("#/workflows")
    link = page.locator('tr[data-workflow^="wf-"] a').first
    workflow = link.inner_text()
    link.click()
    page.wait_for_function("h => document.body.dataset.rendered === h", arg=f"#/workflows/{workflow}")
    trail = api.get(f"/v1/workflows/{workflow}/trail").json()
    for grade in ("verified", "claimed", "inferred"):
        count = page.inner_text(f'[data-grade="{grade}"] .count')
        assert int(count) == sum(1 for e in trail["evidence"] if e["confidence"] == grade), grade
    assert int(page.inner_text("#unbacked")) == len(trail["unbacked_claims"])
    assert page.locator("#tools tr").count() == len(trail["tool_calls"]) + 1
    assert page.locator("#steps tr").count() == len(trail["steps"]) + 1
    assert tab.errors == []


def test_a_replayed_workflow_shows_the_replay_side_by_side(tab: Page, api: httpx.Client) -> None:
    page = tab.open("#/workflows/ticket-0-1")
    page.wait_for_selector("table.side")
    replays = api.get("/v1/signals").json()["replays"]["ticket-0-1"]
    assert "strict" in page.inner_text("#replays") and len(replays) == 1
    trail = api.get("/v1/workflows/ticket-0-1/trail").json()
    assert page.locator("table.side tr").count() == len(trail["tool_calls"]) + 1
    assert page.locator("table.side tr.differs").count() == replays[0]["differences"] == 0  # an exact match
    assert "answered" in page.inner_text("#checkpoints") and "reply sent" in page.inner_text("#checkpoints")


def test_costs_and_breakers_show_the_api_numbers(tab: Page, api: httpx.Client) -> None:
    page = tab.open("#/costs")
    costs = api.get("/v1/report").json()["costs"]
    shown = tab.values()
    for model, amount in costs["cost_by_model"].items():
        assert shown[f"model.{model}"] == amount
    for model in costs["unpriced_models"]:
        assert "unpriced" in page.inner_text(f'tr[data-model="{model}"]')
    assert shown["budget.daily.reserved"] == costs["budgets"][0]["reserved"]
    assert page.locator("#cost-days canvas").count() == 1
    page = tab.open("#/breakers")
    signals = api.get("/v1/signals").json()
    assert tab.values()["alert_count"] == str(signals["alert_count"]) and signals["alert_count"] >= 3
    assert page.locator("#transitions tr").count() == len(signals["transitions"]) + 1 == 4
    assert page.locator("#breaker-timeline canvas").count() == 1
    assert tab.errors == []


def test_a_new_event_shows_within_two_seconds(tab: Page, demo_server: Server) -> None:
    page = tab.open("#/")
    page.wait_for_selector("#live .dot")  # subscribed to the stream
    event = {"type": "StepRecorded", "workflow_id": "wf-live", "agent": "planner", "success": True}
    with demo_server.client("ingest") as client:
        posted = time.monotonic()
        answer = client.post("/v1/events", json={"events": [event]})
    assert answer.status_code == 200, answer.text
    offset = answer.json()["last_offset"]
    page.wait_for_function(
        "o => Number(document.querySelector('#last-event')?.dataset.offset) >= o", arg=offset, timeout=2000
    )
    assert time.monotonic() - posted <= 2.0
    assert "wf-live" in page.inner_text("#live")
    assert tab.errors == []


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_screenshots_of_every_page_are_not_blank(
    browser: Any, demo_server: Server, viewport: dict[str, int], tmp_path: Path
) -> None:
    tab = Page(browser, demo_server.base, demo_server.token["read"], viewport=viewport, color_scheme="dark")
    try:
        for hash_ in PAGES:
            page = tab.open(hash_)
            shot = tmp_path / f"{hash_.strip('#/').replace('/', '-') or 'overview'}.png"
            page.screenshot(path=str(shot), full_page=True)
            assert png_colours(shot.read_bytes()) >= 8, f"{shot} is (nearly) one colour"
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"] + 1, f"{hash_} scrolls sideways at {viewport['width']} px"
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(17, 20, 26)"  # the dark theme, as the system asks
        assert tab.errors == []
    finally:
        tab.close()


def test_the_html_report_opens_offline_from_file_and_shows_the_charts(
    browser: Any, demo_server: Server, tmp_path: Path
) -> None:
    from tests.reliability.service.dashboard.conftest import rledger

    out = tmp_path / "report.html"
    rledger(demo_server.db, "report", "--html", str(out), "--workflow", "ticket-0-1")
    expected = orjson.loads(rledger(demo_server.db, "report", "--format", "json").stdout)
    context = browser.new_context(offline=True, viewport=DESKTOP)
    requested: list[str] = []
    context.on("request", lambda r: requested.append(r.url))
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(out.as_uri())
        page.wait_for_function("() => document.body.dataset.rendered === '#/'")
        assert page.locator(".metric canvas").count() >= 7
        shown = dict(page.eval_on_selector_all(".num", NUMBERS))
        for metric in ("svr", "cr", "pc", "hir", "ma"):
            assert same(shown[f"metrics.{metric}"], expected["metrics"][metric]), metric
        page.evaluate("() => { location.hash = '#/workflows/ticket-0-1' }")
        page.wait_for_selector("table.side")  # the trail and its replay are in the file too
        assert "answered" in page.inner_text("#checkpoints")
        page.evaluate("() => { location.hash = '#/workflows/wf-1-0' }")
        page.wait_for_function("() => document.body.dataset.rendered === '#/workflows/wf-1-0'")
        assert "does not include" in page.inner_text("#app")
        assert [u for u in requested if not u.startswith("file://")] == []
        assert errors == []
    finally:
        context.close()
