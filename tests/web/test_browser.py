"""The web UI driven in Debian's chromium against a served demo portfolio."""

import re

import pytest
from playwright.sync_api import expect

from tests.live import sign_in

pytestmark = pytest.mark.browser


def _account_names(page) -> list[str]:
    return page.locator("table.data tbody tr td:first-child a").all_inner_texts()


def test_wrong_password_shows_an_error_and_keeps_you_on_the_sign_in_page(page, live_server):
    sign_in(page, live_server, "admin@relhealth.demo", "not the password")
    expect(page.get_by_text("do not match an active user")).to_be_visible()
    assert page.url.endswith("/login")


def test_admin_signs_in_and_sees_every_demo_account(page, live_server):
    sign_in(page, live_server, "admin@relhealth.demo")
    expect(page.get_by_role("heading", name="Accounts")).to_be_visible()
    names = _account_names(page)
    assert len(names) == 16
    assert names == sorted(names)
    expect(page.get_by_text("16 accounts · page 1 of 1")).to_be_visible()


def test_filters_and_sorting_change_the_accounts_list(page, live_server):
    sign_in(page, live_server, "admin@relhealth.demo")
    page.get_by_label("Kind").select_option("partner")
    page.get_by_role("button", name="Filter").click()
    kinds = page.locator("table.data tbody tr td:nth-child(2)").all_inner_texts()
    assert kinds
    assert set(kinds) == {"partner"}
    page.get_by_role("link", name="Annual value").click()
    page.get_by_role("link", name="Annual value").click()  # second click: descending
    values = [
        int(v.replace(",", ""))
        for v in page.locator("table.data tbody tr td:nth-child(5)").all_inner_texts()
    ]
    assert values == sorted(values, reverse=True)
    assert "kind=partner" in page.url


def test_account_page_groups_both_sides_by_seniority_and_links_to_people(page, live_server):
    sign_in(page, live_server, "admin@relhealth.demo")
    page.locator("table.data tbody tr").first.locator("a").first.click()
    levels = page.locator(".ladder .level").all_inner_texts()
    assert levels == ["Executive", "Senior", "Manager", "Staff"]
    their_header = page.locator(".ladder-labels span").nth(1).inner_text()
    count = int(re.search(r"\((\d+)\)", their_header).group(1))
    assert page.locator(".person-card.side-external").count() == count
    assert page.locator(".person-card.side-internal").count() >= 1
    first = page.locator(".person-card.side-external").first
    name = first.locator(".person-name").inner_text()
    first.click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    expect(page.get_by_role("heading", name="Relationships")).to_be_visible()


def test_account_manager_sees_only_their_accounts_and_others_are_not_found(
    page, live_server, browser
):
    sign_in(page, live_server, "admin@relhealth.demo")
    all_links = page.locator("table.data tbody tr td:first-child a")
    every = {a.inner_text(): a.get_attribute("href") for a in all_links.all()}

    manager = browser.new_context().new_page()
    sign_in(manager, live_server, "manager@relhealth.demo")
    mine = set(_account_names(manager))
    assert mine
    assert mine < set(every)
    foreign = next(href for name, href in every.items() if name not in mine)
    response = manager.goto(live_server + foreign)
    assert response.status == 404
    expect(manager.get_by_role("heading", name="Not Found")).to_be_visible()
    manager.context.close()


def test_signing_out_ends_the_session_and_nobody_else_inherits_it(page, live_server, browser):
    sign_in(page, live_server, "admin@relhealth.demo")
    stranger = browser.new_context().new_page()
    for _ in range(4):  # both server workers, more than once
        response = stranger.goto(f"{live_server}/accounts")
        assert stranger.url.split("?")[0].endswith("/login"), response.url
    stranger.context.close()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.goto(f"{live_server}/accounts")
    assert "/login" in page.url


def test_pages_fit_a_phone_screen(browser, live_server):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    phone = context.new_page()
    sign_in(phone, live_server, "admin@relhealth.demo")
    phone.locator("table.data tbody tr").first.locator("a").first.click()
    overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    context.close()


def test_api_docs_page_loads_swagger_ui_from_local_assets(page, live_server):
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{live_server}/api/v1/docs")
    expect(page.locator(".swagger-ui")).to_be_visible()
    expect(page.get_by_text("/api/v1/accounts").first).to_be_visible()
    assert requested
    assert all(url.startswith(live_server) for url in requested)
