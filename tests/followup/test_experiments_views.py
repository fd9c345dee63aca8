"""The praise page and the experiment pages: through the test client, then in chromium."""

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from relhealth.accounts.models import RelationshipKind, Tier
from relhealth.auth.models import Role
from relhealth.db import utcnow
from relhealth.extensions import db
from relhealth.followup import experiments, praise, service
from relhealth.followup.models import Experiment, ExperimentAssignment, ExperimentStatus
from relhealth.surveys.models import Answer, QuestionType, Response, ResponseSource
from tests import factories as f
from tests.databases import throwaway_database
from tests.followup.conftest import NOW
from tests.live import PHONE, live_env, migrate, new_page, served, shot, sign_in

TODAY = dt.date.today()


def said(person, text, *, nps=9, submitted_at=None):
    """A stored response of ``person`` with an NPS and a "who made a difference" answer."""
    response = Response(
        person_id=person.id,
        account_id=person.account_id,
        side=person.side,
        seniority=person.seniority,
        submitted_at=submitted_at or utcnow(),
        source=ResponseSource.IMPORT,
        answers=[
            Answer(question_key="nps", question_type=QuestionType.NPS, value=nps, scaled=nps * 10),
            Answer(question_key="value", question_type=QuestionType.RATING, value=5, scaled=100),
            Answer(question_key="made_a_difference", question_type=QuestionType.TEXT, text=text),
        ],
    )
    db.session.add(response)
    db.session.flush()
    return response


# Praise page -----------------------------------------------------------------------------


def test_the_praise_page_shows_readable_accounts_praise_escaped(world, signed_in, settings):
    john = f.StaffFactory(first_name="John", last_name="Smith", email="js@us.test")
    for person in (world.ada, world.bob):
        response = said(person, f"John Smith <script>alert('{person.first_name}')</script>")
        praise.route_praise(db.session, response.id, settings, NOW)
    page = signed_in(world.owner).get("/praise")
    assert page.status_code == 200
    html = page.text
    assert "John Smith" in html
    assert "&lt;script&gt;alert(&#39;Ada&#39;)&lt;/script&gt;" in html
    assert "<script>alert" not in html
    assert "Bob" not in html  # Globex is not the owner's
    assert "Most praised" in html
    mine = signed_in(world.owner).get(f"/praise?employee={john.id}").text
    assert "Showing praise of" in mine


def test_the_praise_page_says_when_there_is_none(world, signed_in):
    html = signed_in(world.viewer).get("/praise").text
    assert "No praise yet" in html
    assert signed_in(world.viewer).get("/praise?employee=abc").status_code == 200


# Experiment pages ------------------------------------------------------------------------


FORM = {
    "name": "Call within 48h",
    "period_start": (TODAY - dt.timedelta(days=400)).isoformat(),
    "period_end": TODAY.isoformat(),
    "outreach_share": "0.5",
    "seed": "5",
    "hypothesis": "",
}


def test_experiments_are_for_admins_and_executives_only(world, signed_in):
    client = signed_in(world.owner)
    assert client.get("/experiments").status_code == 403
    assert client.post("/experiments", data=FORM).status_code == 403
    assert db.session.scalar(select(func.count()).select_from(Experiment)) == 0
    assert 'href="/experiments"' not in client.get("/praise").text
    executive = signed_in(world.executive)
    assert executive.get("/experiments").status_code == 200
    assert 'href="/experiments"' in executive.get("/praise").text


def test_a_bad_form_shows_its_errors_and_stores_nothing(world, signed_in):
    client = signed_in(world.admin)
    late = client.post("/experiments", data={**FORM, "period_end": "2020-01-01"})
    assert late.status_code == 422
    assert "must not end before it starts" in late.text
    share = client.post("/experiments", data={**FORM, "outreach_share": "1"})
    assert share.status_code == 422
    assert 'aria-invalid="true"' in share.text
    assert 'value="Call within 48h"' in share.text  # what was typed is kept
    assert db.session.scalar(select(func.count()).select_from(Experiment)) == 0


def test_an_experiment_is_defined_started_and_finished_through_its_page(
    world, signed_in, detractors
):
    detractors(Tier.STRATEGIC, 2)
    detractors(Tier.STANDARD, 3)
    client = signed_in(world.admin)
    created = client.post("/experiments", data=FORM)
    assert created.status_code == 303
    url = created.headers["Location"]
    draft = client.get(url).text
    assert "5 detractor cases of this period are waiting untouched" in draft
    assert "Start the experiment" in draft

    started = client.post(f"{url}/start")
    assert started.status_code == 303
    page = client.get(url).text
    assert "Finish and release the control cases" in page
    assert '<th scope="row">strategic</th><td class="num">1</td><td class="num">1</td>' in page
    assert "Interim" in page
    assert "insufficient" in page  # nobody has answered again yet
    assert "the assignments match it" in page

    again = client.post(f"{url}/start")
    assert again.status_code == 409
    assert "started already" in again.text

    finished = client.post(f"{url}/finish")
    assert finished.status_code == 303
    page = client.get(url).text
    assert "Interim" not in page
    assert "held cases released" in page or "held case released" in page
    twice = client.post(f"{url}/finish")
    assert twice.status_code == 409
    assert "finished already" in twice.text


def test_finishing_a_draft_shows_why_not(world, signed_in):
    experiment = experiments.create_experiment(
        db.session,
        world.admin,
        {
            "name": "Draft",
            "period_start": TODAY - dt.timedelta(days=10),
            "period_end": TODAY - dt.timedelta(days=5),
            "seed": 1,
        },
        NOW,
    )
    client = signed_in(world.admin)
    response = client.post(f"/experiments/{experiment.id}/finish")
    assert response.status_code == 409
    assert "has not started" in response.text
    assert "No detractor case of this period is waiting" in response.text
    assert client.post(f"/experiments/{experiment.id}/start").status_code == 409
    assert client.get("/experiments/999999").status_code == 404
    assert signed_in(world.owner).post(f"/experiments/{experiment.id}/start").status_code == 403


def test_results_show_the_difference_and_whether_its_interval_leaves_out_zero(world, signed_in):
    experiment = experiments.create_experiment(
        db.session,
        world.admin,
        {"name": "Measured", "period_start": TODAY, "period_end": TODAY, "seed": 1},
        NOW,
    )
    experiment.status = ExperimentStatus.FINISHED
    # Everyone answers again with a rating of 100: the change is 100 - baseline.
    for arm, baseline in [("outreach", b) for b in (50, 40, 45)] + [
        ("control", b) for b in (90, 95, 85)
    ]:
        person = f.PersonFactory(account=world.acme)
        first = said(person, "", nps=3, submitted_at=NOW)
        said(person, "", nps=9, submitted_at=NOW + dt.timedelta(days=90))
        db.session.add(
            ExperimentAssignment(
                experiment_id=experiment.id,
                response_id=first.id,
                person_id=person.id,
                account_id=world.acme.id,
                stratum="key",
                arm=arm,
                baseline_score=baseline,
                baseline_value=world.acme.annual_value,
                assigned_at=NOW,
            )
        )
    db.session.flush()
    html = signed_in(world.admin).get(f"/experiments/{experiment.id}").text
    row = html.split('class="outcome-score_change"', 1)[1].split("</tr>", 1)[0]
    assert "+55.0" in row  # outreach mean change
    assert "+10.0" in row  # control mean change
    assert "+45.0" in row  # the difference; df 4, t 2.776: 33.7 to 56.3
    assert "+33.7 to +56.3" in row
    assert "excludes 0" in row
    renewal = html.split('class="outcome-renewal"', 1)[1].split("</tr>", 1)[0]
    assert "insufficient" in renewal
    value = html.split('class="outcome-value_change"', 1)[1].split("</tr>", 1)[0]
    assert "no spread" in value
    assert "excludes 0" not in value


# In chromium -----------------------------------------------------------------------------


def _seed(now: dt.datetime) -> None:
    """Praise, detractor cases in three tiers and a draft experiment; committed."""
    admin = f.UserFactory(role=Role.ADMIN, email="admin@followup.test", name="Ada Admin")
    owner = f.UserFactory(role=Role.ACCOUNT_MANAGER, email="owner@followup.test")
    john = f.StaffFactory(first_name="John", last_name="Smith", email="john@us.test")
    boss = f.StaffFactory(first_name="Maria", last_name="Boss", email="maria@us.test")
    f.RelationshipFactory(source=john, target=boss, kind=RelationshipKind.REPORTS_TO)
    settings = service.settings_for()
    acme = f.AccountFactory(name="Acme <Corp>", tier=Tier.STRATEGIC, owner_id=owner.id)
    person = f.PersonFactory(account=acme, first_name="Eve", last_name="Happy")
    response = said(person, "Jon Smiht went <b>far</b> beyond what we asked.", submitted_at=now)
    praise.route_praise(db.session, response.id, settings, now)
    for tier, n in ((Tier.STRATEGIC, 2), (Tier.KEY, 4), (Tier.STANDARD, 3)):
        account = f.AccountFactory(tier=tier, owner_id=owner.id, annual_value=Decimal(50000))
        for _ in range(n):
            unhappy = said(f.PersonFactory(account=account), "Nobody", nps=2, submitted_at=now)
            service.open_cases_for_response(db.session, unhappy.id, settings, now)
    experiments.create_experiment(
        db.session,
        admin,
        {
            "name": "Call detractors within 48 hours",
            "hypothesis": "A call from the account owner lifts the next score.",
            "period_start": now.date() - dt.timedelta(days=30),
            "period_end": now.date(),
            "seed": 2026,
        },
        now,
    )
    db.session.commit()


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """A served database holding ``_seed``'s data: its base URL."""
    tmp = tmp_path_factory.mktemp("followup-live")
    with throwaway_database(tmp) as url:
        migrate(url, lambda: _seed(utcnow() - dt.timedelta(days=1)))
        with served(live_env(url, tmp), tmp, workers=1) as base_url:
            yield base_url


@pytest.mark.browser
def test_in_chromium_an_experiment_is_started_finished_and_compared(page, live):
    from playwright.sync_api import expect

    sign_in(page, live, "admin@followup.test", f.PASSWORD)
    page.goto(f"{live}/praise")
    page.get_by_role("link", name="Outreach experiments").click()
    expect(page.get_by_role("heading", name="Outreach experiments")).to_be_visible()

    # A bad period is refused on the form, with the reason beside the field.
    form = page.get_by_role("form", name="New experiment")
    form.get_by_label("Name").fill("Backwards")
    form.get_by_label("Answered from").fill("2026-03-01")
    form.get_by_label("to (inclusive)").fill("2026-02-01")
    form.get_by_role("button", name="Create draft").click()
    expect(page.locator("#x-period_end-error")).to_contain_text("must not end before it starts")
    shot(page, "experiments-form-error")

    page.get_by_role("link", name="Call detractors within 48 hours").click()
    expect(page.get_by_text("9 detractor cases of this period are waiting")).to_be_visible()
    shot(page, "experiment-draft")
    page.get_by_role("button", name="Start the experiment").click()
    expect(page.locator(".flash-info")).to_contain_text("Started")
    rows = page.locator("table.arms-table tbody tr")
    assert rows.count() == 4  # three tiers and the total
    expect(rows.last).to_contain_text("9")
    expect(page.locator(".results-table")).to_contain_text("insufficient")
    expect(page.get_by_text("the assignments match it")).to_be_visible()
    shot(page, "experiment-running")

    page.get_by_role("button", name="Finish and release the control cases").click()
    expect(page.locator(".experiment-status")).to_have_text("finished")
    expect(page.locator(".events")).to_contain_text("released")
    shot(page, "experiment-finished")


@pytest.mark.browser
def test_in_chromium_the_praise_page_lists_who_was_named(page, live, browser):
    from playwright.sync_api import expect

    sign_in(page, live, "admin@followup.test", f.PASSWORD)
    page.goto(f"{live}/praise")
    expect(page.get_by_role("heading", name="Praise", exact=True)).to_be_visible()
    row = page.locator("table.praise-table tbody tr").first
    expect(row).to_contain_text("John Smith")
    expect(row).to_contain_text("Acme <Corp>")
    expect(row).to_contain_text("went <b>far</b> beyond")  # the words as text, not markup
    expect(row).to_contain_text("close spelling")
    shot(page, "praise-desktop")

    with new_page(browser, viewport=PHONE, device_scale_factor=2) as phone:
        sign_in(phone, live, "admin@followup.test", f.PASSWORD)
        phone.goto(f"{live}/praise")
        shot(phone, "praise-phone")
        phone.goto(f"{live}/experiments")
        shot(phone, "experiments-phone")
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
