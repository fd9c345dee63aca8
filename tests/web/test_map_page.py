"""The stakeholder map page driven in Debian's chromium against the served demo portfolio."""

import re

import pytest
from playwright.sync_api import expect

from tests.live import sign_in

pytestmark = pytest.mark.browser


def largest_account(page, base_url: str) -> str:
    """The URL of the demo account with the most people of theirs (signed in as admin)."""
    sign_in(page, base_url, "admin@relhealth.demo")
    rows = page.locator("table.data tbody tr").all()
    counts = {
        row.locator("td a").first.get_attribute("href"): int(row.locator("td").nth(7).inner_text())
        for row in rows
    }
    return base_url + max(counts, key=counts.get)


@pytest.fixture
def account_map(page, live_server):
    """The largest demo account's map, with how many people its account page lists."""
    page.goto(largest_account(page, live_server))
    header = page.locator(".ladder-labels span").nth(1).inner_text()
    theirs = int(re.search(r"\((\d+)\)", header).group(1))
    ours = page.locator(".person-card.side-internal").count()
    page.get_by_role("link", name="Stakeholder map").click()
    expect(page.get_by_role("heading", name="Stakeholder map")).to_be_visible()
    return {"theirs": theirs, "ours": ours}


def visible(page, selector: str) -> int:
    return page.locator(selector).evaluate_all(
        "els => els.filter(e => e.getBoundingClientRect().width > 0).length"
    )


def test_the_largest_accounts_map_shows_every_person_it_has(page, account_map):
    everyone = account_map["theirs"] + account_map["ours"]
    assert page.locator("#map-canvas svg .node").count() == everyone
    assert visible(page, ".node") == everyone
    assert visible(page, '.node[data-side="external"]') == account_map["theirs"]
    expect(page.locator("#map-showing")).to_have_text(f"Showing all {everyone} people")
    expect(page.get_by_role("heading", name="Coverage")).to_be_visible()
    expect(page.locator(".map-legend")).to_be_visible()


def test_unticking_a_level_hides_its_people_and_their_links(page, account_map):
    staff = page.locator('.node[data-level="staff"]').count()
    assert staff > 0
    staff_ids = page.locator('.node[data-level="staff"]').evaluate_all(
        "els => els.map(e => e.dataset.id)"
    )
    page.get_by_role("checkbox", name=re.compile(r"^Staff")).uncheck()
    assert visible(page, '.node[data-level="staff"]') == 0
    assert visible(page, ".node") == account_map["theirs"] + account_map["ours"] - staff
    edges_to_staff = page.locator(".edge").evaluate_all(
        """(els, ids) => els.filter(e =>
             (ids.includes(e.dataset.source) || ids.includes(e.dataset.target))
             && getComputedStyle(e).display !== 'none').length""",
        staff_ids,
    )
    assert edges_to_staff == 0
    page.get_by_role("checkbox", name=re.compile(r"^Staff")).check()
    assert visible(page, '.node[data-level="staff"]') == staff


def test_unticking_our_side_hides_our_people_only(page, account_map):
    page.get_by_role("checkbox", name=re.compile(r"^Our people")).uncheck()
    assert visible(page, '.node[data-side="internal"]') == 0
    assert visible(page, '.node[data-side="external"]') == account_map["theirs"]
    everyone = account_map["theirs"] + account_map["ours"]
    expect(page.locator("#map-showing")).to_have_text(
        f"Showing {account_map['theirs']} of {everyone} people"
    )


def test_hovering_a_person_shows_their_details(page, account_map):
    person = page.locator('.node[data-side="external"]').first
    name = person.get_attribute("data-name")
    person.hover()
    details = page.locator("#map-details")
    expect(details.get_by_role("heading", name=name)).to_be_visible()
    expect(details).to_contain_text("Coverage")
    expect(details.get_by_role("link", name=f"Open {name}")).to_be_visible()
    assert "Their side" not in details.inner_text()  # says "their side", after the level
    expect(details).to_contain_text("their side")


def test_clicking_a_person_opens_their_page(page, account_map):
    person = page.locator('.node[data-side="external"]').nth(1)
    name = person.get_attribute("data-name")
    person_id = person.get_attribute("data-id")
    person.click()
    expect(page).to_have_url(re.compile(rf"/people/{person_id}$"))
    expect(page.get_by_role("heading", name=name)).to_be_visible()


def test_the_map_loads_nothing_from_other_hosts(browser, live_server):
    context = browser.new_context()
    page = context.new_page()
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(largest_account(page, live_server) + "/map")
    expect(page.locator(".node").first).to_be_visible()
    assert any(url.endswith("/static/map.js") for url in requested)
    assert all(url.startswith(live_server) for url in requested)
    context.close()


def test_without_javascript_the_whole_map_still_shows(browser, live_server):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    url = largest_account(page, live_server) + "/map"
    page.goto(url)
    nodes = page.locator(".node")
    assert nodes.count() > 0
    assert visible(page, ".node") == nodes.count()
    expect(page.locator("#map-filters")).to_be_hidden()  # filters need the script
    context.close()


def test_someone_elses_account_map_is_not_found_for_a_manager(page, live_server, browser):
    sign_in(page, live_server, "admin@relhealth.demo")
    every = {
        a.inner_text(): a.get_attribute("href")
        for a in page.locator("table.data tbody tr td:first-child a").all()
    }
    manager = browser.new_context().new_page()
    sign_in(manager, live_server, "manager@relhealth.demo")
    mine = set(manager.locator("table.data tbody tr td:first-child a").all_inner_texts())
    own = next(href for name, href in every.items() if name in mine)
    foreign = next(href for name, href in every.items() if name not in mine)
    assert manager.goto(f"{live_server}{own}/map").status == 200
    response = manager.goto(f"{live_server}{foreign}/map")
    assert response.status == 404
    expect(manager.get_by_role("heading", name="Not Found")).to_be_visible()
    manager.context.close()
