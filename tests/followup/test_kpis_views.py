"""The closed-loop dashboard (/closed-loop): through the client, then in chromium."""

from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from relhealth.auth.models import Role
from relhealth.db import utcnow
from relhealth.followup.models import CaseStatus
from tests.databases import throwaway_database
from tests.factories import PASSWORD, AccountFactory, UserFactory
from tests.followup.test_kpis import days, hours, make_case
from tests.live import live_env, migrate, new_page, served, shot, sign_in

PAGE = "/closed-loop"


@pytest.fixture
def cases():
    manager = UserFactory(role=Role.ACCOUNT_MANAGER, name="Mia Manager")
    mine = AccountFactory(name="Mine & <Co>", owner=manager)
    foreign = AccountFactory(name="Foreign Ltd")
    now = utcnow()
    make_case(
        mine,
        now - days(30),
        status=CaseStatus.RESOLVED,
        contact_after=hours(6),
        ended_after=days(2),
        told=True,
        owner=manager,
        tags=("pricing_value",),
    )
    make_case(mine, now - days(5), owner=manager, tags=("delivery",))
    make_case(
        foreign, now - days(9), value=Decimal("900000.00"), tags=("billing", "staff_turnover")
    )
    return {"manager": manager, "mine": mine, "foreign": foreign}


def test_the_page_needs_a_sign_in(client):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_empty_state_without_cases(signed_in):
    html = signed_in(UserFactory(role=Role.VIEWER)).get(PAGE).text
    assert "No cases in this period" in html
    assert "kpi-table" not in html


def test_a_manager_sees_their_tiles_table_trend_and_root_causes(signed_in, cases):
    html = signed_in(cases["manager"]).get(PAGE).text
    assert "Closing the loop" in html
    assert "Detractor cases" in html
    assert "Mia Manager" in html
    assert "Foreign Ltd" not in html
    assert "Billing" not in html  # the foreign account's root causes
    assert "Pricing value" in html
    assert "Delivery" in html
    assert 'class="data kpi-trend"' in html
    # Resolved by value is a share: the sums behind it count an account once per case, so
    # they are not printed as if they were money at stake.
    assert "each case weighted by its account's value" in html
    by_account = signed_in(cases["manager"]).get(PAGE + "?by=account&period=quarter").text
    assert "Mine &amp; &lt;Co&gt;" in by_account
    assert "<Co>" not in by_account
    assert f'href="/accounts/{cases["mine"].id}"' in by_account
    assert "Per quarter" in by_account


def test_admin_sees_root_causes_ranked_by_value(signed_in, cases):
    html = signed_in(UserFactory(role=Role.ADMIN)).get(PAGE).text
    causes = html.split('class="data root-causes"', 1)[1]
    # Foreign's 900,000 first (billing and staff turnover), then Mine's 100,000.
    assert causes.index("Billing") < causes.index("Pricing value")
    assert causes.index("Staff turnover") < causes.index("Delivery")


def test_bad_dates_are_reported_and_the_defaults_used(signed_in, cases):
    client = signed_in(UserFactory(role=Role.ADMIN))
    html = client.get(PAGE + "?start=2026-02-30&end=nope&by=<x>&period=week").text
    assert 'aria-invalid="true"' in html
    assert "Not a valid date." in html
    assert "Detractor cases" in html  # the last 365 days instead
    reversed_range = client.get(PAGE + "?start=2026-03-01&end=2026-02-01").text
    assert "Must be on or after the start." in reversed_range


def test_a_range_without_cases_shows_the_empty_state(signed_in, cases):
    html = signed_in(UserFactory(role=Role.ADMIN)).get(PAGE + "?start=2001-01-01&end=2001-12-31")
    assert "No cases in this period" in html.text


def test_csv_links_answer_the_api_columns(signed_in, cases):
    client = signed_in(cases["manager"])
    kpis = client.get(PAGE + ".csv?table=kpis&by=account")
    assert kpis.mimetype == "text/csv"
    lines = kpis.text.splitlines()
    assert lines[0].startswith("key,label,detractors,")
    assert len(lines) == 3  # header, all, Mine
    causes = client.get(PAGE + ".csv?table=root_causes")
    assert causes.text.splitlines()[0] == "period,tag,cases,open,accounts,value_at_stake"
    assert "billing" not in causes.text
    assert client.get(PAGE + ".csv?table=nope").status_code == 404


def test_the_navigation_links_to_the_dashboard(signed_in):
    html = signed_in(UserFactory(role=Role.VIEWER)).get(PAGE).text
    assert f'href="{PAGE}" aria-current="page"' in html


# In chromium ------------------------------------------------------------------------------------

# Set RELHEALTH_SHOTS=/tmp/shots to keep screenshots of the page at desktop and phone width.


def _seed_cases(url: str) -> None:
    """Committed users, three accounts and their cases in every state, with root causes."""
    from relhealth.accounts.models import Account, Person, Side
    from relhealth.auth.models import User
    from relhealth.config import sqlalchemy_url
    from relhealth.followup.models import Case, CaseTag
    from relhealth.followup.rules import FollowupSettings, due_dates
    from relhealth.surveys.models import Response, ResponseSource
    from tests.factories import PASSWORD_HASH

    engine = sa.create_engine(sqlalchemy_url(url, Path(".")))
    now = utcnow()
    states = [
        (CaseStatus.RESOLVED, hours(8), days(3), True, ("pricing_value",)),
        (CaseStatus.RESOLVED, hours(70), days(18), False, ("support_responsiveness",)),
        (CaseStatus.CONTACTED, hours(20), None, False, ("support_responsiveness", "delivery")),
        (CaseStatus.OPEN, None, None, False, ("pricing_value",)),
        (CaseStatus.CLOSED_UNRESOLVED, hours(30), days(6), False, ("billing",)),
    ]

    def user(email, name, role):
        return User(email=email, name=name, role=role, password_hash=PASSWORD_HASH)

    with Session(engine) as session:
        session.add_all(
            [
                user("admin@kpi.test", "Ada Admin", Role.ADMIN),
                user("nobody@kpi.test", "No Body", Role.VIEWER),
            ]
        )
        for index, name in enumerate(("Northwind", "Globex", "Initech")):
            owner = user(f"owner{index}@kpi.test", f"Owner {name}", Role.ACCOUNT_MANAGER)
            account = Account(
                name=name,
                kind="customer",
                tier="key",
                annual_value=Decimal(100_000 * (index + 1)),
                owner=owner,
            )
            session.add(account)
            session.flush()
            for number, state in enumerate(states):
                status, contact, ended, told, tags = state
                person = Person(
                    account_id=account.id,
                    side=Side.EXTERNAL,
                    first_name=f"P{number}",
                    last_name=name,
                    email=f"p{number}@{name.lower()}.test",
                    seniority="manager",
                )
                session.add(person)
                session.flush()
                opened = now - days(20 + 35 * number + 3 * index)
                response = Response(
                    person_id=person.id,
                    account_id=account.id,
                    side=Side.EXTERNAL,
                    seniority=person.seniority,
                    submitted_at=opened,
                    source=ResponseSource.IMPORT,
                )
                session.add(response)
                session.flush()
                first_due, resolution_due = due_dates(opened, FollowupSettings())
                ended_at = opened + ended if ended else None
                session.add(
                    Case(
                        reason="detractor",
                        open_key=None if ended else f"detractor:person:{person.id}",
                        account_id=account.id,
                        person_id=person.id,
                        response_id=response.id,
                        title="Detractor",
                        score=4,
                        owner_id=owner.id,
                        priority=1.0,
                        priority_parts={},
                        value_at_stake=account.annual_value,
                        status=status,
                        opened_at=opened,
                        first_contact_due=first_due,
                        resolution_due=resolution_due,
                        first_contact_at=opened + contact if contact else None,
                        ended_at=ended_at,
                        resolution="Fixed." if status == CaseStatus.RESOLVED else None,
                        told_respondent_at=ended_at if told else None,
                        tags=[CaseTag(tag=tag) for tag in tags],
                    )
                )
        session.commit()
    engine.dispose()


@pytest.fixture(scope="module")
def kpi_server(tmp_path_factory):
    """A migrated database with three accounts and their cases in every state, served."""
    tmp = tmp_path_factory.mktemp("kpi-live")
    with throwaway_database(tmp) as url:
        migrate(url)
        _seed_cases(url)
        with served(live_env(url, tmp), tmp, workers=1) as base_url:
            yield base_url


@pytest.mark.browser
def test_dashboard_in_chromium(browser, kpi_server):
    from playwright.sync_api import expect

    with new_page(browser) as page:
        sign_in(page, kpi_server, "admin@kpi.test", PASSWORD)
        page.get_by_role("link", name="Closed loop", exact=True).click()
        expect(page.get_by_role("heading", name="Closing the loop")).to_be_visible()
        tiles = page.locator(".kpi-tiles dt").all_inner_texts()
        assert [t.strip().lower() for t in tiles] == [
            "detractor cases",
            "resolved",
            "resolved by value",
            "first contact",
            "resolution",
            "sla breaches",
            "respondent told",
        ]
        expect(page.locator(".kpi-tiles dd").first).to_contain_text("15")  # 3 accounts x 5
        assert page.locator("table.kpi-table tbody tr").count() >= 1
        assert page.locator("table.kpi-trend tbody tr").count() >= 3
        causes = page.locator("table.root-causes tbody td:first-child").all_inner_texts()
        assert set(causes) == {
            "Pricing value",
            "Support responsiveness",
            "Delivery",
            "Billing",
        }
        shot(page, "closed-loop-desktop")

        switch = page.get_by_role("navigation", name="Break the KPIs down by")
        switch.get_by_role("link", name="By account").click()
        assert "by=account" in page.url
        expect(page.get_by_role("heading", name="By account")).to_be_visible()
        assert page.locator("table.kpi-table tbody tr").count() == 3

        page.get_by_label("Trend per").select_option("quarter")
        page.get_by_role("button", name="Show").click()
        assert "period=quarter" in page.url
        assert "by=account" in page.url  # the breakdown is kept
        expect(page.get_by_role("heading", name="Per quarter")).to_be_visible()

        csv = page.locator("a.csv-link").first.get_attribute("href")
        response = page.request.get(kpi_server + csv)
        assert response.ok
        assert response.headers["content-type"].startswith("text/csv")

        page.get_by_label("From").fill("2001-01-01")
        page.get_by_label("To").fill("2001-06-30")
        page.get_by_role("button", name="Show").click()
        expect(page.get_by_role("heading", name="No cases in this period")).to_be_visible()

        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(f"{kpi_server}/closed-loop")
        expect(page.locator(".kpi-tiles")).to_be_visible()
        shot(page, "closed-loop-phone")


@pytest.mark.browser
def test_a_viewer_without_accounts_sees_the_empty_state_in_chromium(browser, kpi_server):
    from playwright.sync_api import expect

    with new_page(browser) as page:
        sign_in(page, kpi_server, "nobody@kpi.test", PASSWORD)
        page.goto(f"{kpi_server}/closed-loop")
        expect(page.get_by_role("heading", name="No cases in this period")).to_be_visible()
        shot(page, "closed-loop-empty")
