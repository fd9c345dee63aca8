"""The trends page and the portfolio dashboard driven in Debian's chromium on the demo data."""

import pytest
from playwright.sync_api import expect

from tests.live import PHONE, shot, sign_in

pytestmark = pytest.mark.browser


def _first_account(page, base_url: str) -> str:
    sign_in(page, base_url, "admin@relhealth.demo")
    return page.locator("table.data tbody tr td:first-child a").first.inner_text()


def test_account_page_links_to_trends_and_the_breakdown_switches(page, live_server):
    name = _first_account(page, live_server)
    page.get_by_role("link", name=name, exact=True).click()
    page.get_by_role("link", name="Trends", exact=True).first.click()
    expect(page.get_by_role("heading", name=f"Trends of {name}")).to_be_visible()
    expect(page.locator(".headline dt").first).to_have_text("Health index")
    expect(page.locator(".headline .n").first).to_contain_text("n=")
    assert page.locator("svg.chart-trend").count() == 1
    shot(page, "trends-desktop")

    switch = page.get_by_role("navigation", name="Break the trend down by")
    switch.get_by_role("link", name="Side").click()
    assert "by=side" in page.url
    expect(switch.get_by_role("link", name="Side")).to_have_attribute("aria-current", "true")
    legend = page.locator("svg.chart-trend text").evaluate_all("els => els.map(e => e.textContent)")
    assert "Their side" in legend
    assert "Our side" in legend

    switch.get_by_role("link", name="Seniority").click()
    assert "by=seniority" in page.url
    assert page.locator("svg.chart-heatmap").count() == 1
    shot(page, "trends-seniority-desktop")

    switch.get_by_role("link", name="Dimension").click()
    assert "by=dimension" in page.url
    panels = page.locator("svg.chart-trend text").evaluate_all("els => els.map(e => e.textContent)")
    assert "Their side" in panels
    shot(page, "trends-dimension-desktop")

    expect(page.get_by_role("heading", name="Ours vs theirs")).to_be_visible()
    # The gap chart needs both sides in the wave; the table says why a dimension is missing.
    assert page.locator("table.gap-table tbody tr").count() >= 1
    csv = page.locator("a.csv-link").first.get_attribute("href")
    response = page.request.get(live_server + csv)
    assert response.ok
    assert response.headers["content-type"].startswith("text/csv")
    assert "wave_at" in response.text().splitlines()[0].split(",")


def test_portfolio_dashboard_ranks_accounts_and_filters_them(page, live_server):
    sign_in(page, live_server, "admin@relhealth.demo")
    page.get_by_role("link", name="Health", exact=True).click()
    expect(page.get_by_role("heading", name="Portfolio health")).to_be_visible()
    assert page.locator("svg.chart-portfolio").count() == 1
    rows = page.locator("table.portfolio-table tbody tr")
    assert rows.count() == 16
    shot(page, "portfolio-desktop")
    page.get_by_label("Kind").select_option("partner")
    page.get_by_role("button", name="Filter").click()
    assert "kind=partner" in page.url
    assert rows.count() == 4
    rows.first.locator("a").first.click()
    expect(page.get_by_role("heading", name="Scores per wave")).to_be_visible()


def test_pages_fit_a_phone(browser, live_server):
    context = browser.new_context(viewport=PHONE, device_scale_factor=2)
    page = context.new_page()
    try:
        sign_in(page, live_server, "admin@relhealth.demo")
        page.goto(f"{live_server}/portfolio/health")
        shot(page, "portfolio-phone")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"] + 1  # nothing pushes the page sideways
        page.locator("table.portfolio-table tbody tr a").first.click()
        expect(page.get_by_role("heading", name="Scores per wave")).to_be_visible()
        shot(page, "trends-phone")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
    finally:
        context.close()


def test_the_map_shows_each_persons_latest_score(page, live_server):
    name = _first_account(page, live_server)
    page.get_by_role("link", name=name, exact=True).click()
    page.get_by_role("link", name="Stakeholder map").click()
    scored = page.locator("#map-canvas .node-score")
    assert scored.count() > 0
    shot(page, "map-scores-desktop")
