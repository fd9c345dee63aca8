"""The case inbox and the case page through the test client (forms, permissions, CSRF)."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from flask import current_app
from sqlalchemy import func, select

from relhealth.accounts.models import Tier
from relhealth.analytics.models import Alert, AlertKind, AlertSeverity
from relhealth.auth.models import Role
from relhealth.db import utcnow
from relhealth.extensions import db
from relhealth.followup import service
from relhealth.followup.models import ActivityKind, Case, CaseActivity, CaseStatus
from relhealth.messaging.models import OutboxMessage
from relhealth.surveys.models import Answer, QuestionType, Response, ResponseSource
from tests.databases import throwaway_database
from tests.factories import PASSWORD, PersonFactory, UserFactory
from tests.followup.conftest import NOW
from tests.live import PHONE, live_env, migrate, new_page, served, shot, sign_in


@pytest.fixture
def open_case(respond, settings):
    """``open_case(person, nps=2)``: a response and its first case (a detractor's, if any)."""

    def open_case(person, now=NOW, **answers):
        response = respond(person, **answers)
        return service.open_cases_for_response(db.session, response.id, settings, now)[0]

    return open_case


def _csrf(html: bytes) -> str:
    return re.search(rb'name="[a-z]*-?csrf_token"[^>]*value="([^"]+)"', html).group(1).decode()


def _timeline(case) -> list[str]:
    return list(
        db.session.scalars(
            select(CaseActivity.kind)
            .where(CaseActivity.case_id == case.id)
            .order_by(CaseActivity.id)
        )
    )


def _fresh(case) -> Case:
    db.session.expire_all()
    return db.session.get(Case, case.id)


# -- the inbox ---------------------------------------------------------------------------------


def test_the_inbox_lists_only_visible_cases_with_the_persons_name_and_seniority(
    signed_in, world, open_case
):
    mine = open_case(world.ada, nps=2)
    open_case(world.bob, nps=1)  # Globex: another manager's account
    page = signed_in(world.owner).get("/cases")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'href="/cases/{mine.id}"' in html
    assert "Ada Byron" in html
    assert "staff" in html
    assert "Bob Stone" not in html
    assert "Globex" not in html
    assert "Detractor" in html
    assert "Resolution overdue" in html  # opened months ago


def test_the_inbox_puts_overdue_cases_first_then_priority(signed_in, world, open_case):
    senior = PersonFactory(account=world.acme, seniority="executive", email="exec@acme.test")
    late = open_case(world.ada, nps=3)  # opened months ago: overdue
    fresh = open_case(senior, now=utcnow(), nps=3)  # higher priority, not yet due
    assert fresh.priority > late.priority
    html = signed_in(world.owner).get("/cases").get_data(as_text=True)
    assert html.index(f'href="/cases/{late.id}"') < html.index(f'href="/cases/{fresh.id}"')
    html = signed_in(world.owner).get("/cases?sort=priority").get_data(as_text=True)
    assert html.index(f'href="/cases/{fresh.id}"') < html.index(f'href="/cases/{late.id}"')


def test_the_inbox_filters_by_status_reason_owner_account_and_overdue(signed_in, world, open_case):
    late = open_case(world.ada, nps=3)
    senior = PersonFactory(account=world.acme, seniority="executive", email="exec@acme.test")
    fresh = open_case(senior, now=utcnow(), ratings=(1, 1))  # low score, not overdue
    client = signed_in(world.admin)

    def listed(query):
        html = client.get(f"/cases?{query}").get_data(as_text=True)
        return {c.id for c in (late, fresh) if f'href="/cases/{c.id}"' in html}

    assert listed("") == {late.id, fresh.id}
    assert listed("overdue=1") == {late.id}
    assert listed("reason=low_score") == {fresh.id}
    assert listed(f"account={world.globex.id}") == set()
    assert listed(f"account={world.acme.id}") == {late.id, fresh.id}
    assert listed("owner=mine") == set()  # the admin owns none of them
    assert listed("status=resolved") == set()
    assert listed("status=open&reason=detractor") == {late.id}
    # Nonsense filters are ignored, not errors.
    assert listed("status=nope&reason=x&account=abc&page=zz&sort=boom") == {late.id, fresh.id}


def test_the_inbox_says_when_nothing_is_open(signed_in, world):
    html = signed_in(world.owner).get("/cases").get_data(as_text=True)
    assert "No open cases" in html
    html = signed_in(world.owner).get("/cases?reason=alert").get_data(as_text=True)
    assert "No cases match these filters" in html


def test_held_cases_are_invisible_in_the_inbox_and_their_page(signed_in, world, open_case):
    case = open_case(world.ada, nps=2)
    case.held = True
    db.session.flush()
    client = signed_in(world.owner)
    assert f'href="/cases/{case.id}"' not in client.get("/cases").get_data(as_text=True)
    assert client.get(f"/cases/{case.id}").status_code == 404


def test_the_inbox_pages(signed_in, world, open_case, monkeypatch):
    from relhealth.followup import views

    monkeypatch.setattr(views, "PAGE_SIZE", 1)
    first = open_case(world.ada, nps=5)
    second = open_case(PersonFactory(account=world.acme), nps=4)
    client = signed_in(world.owner)
    page_one = client.get("/cases").get_data(as_text=True)
    page_two = client.get("/cases?page=2").get_data(as_text=True)
    assert "page 1 of 2" in page_one
    assert "page 2 of 2" in page_two
    shown = [c.id for c in (first, second) if f'href="/cases/{c.id}"' in page_one]
    assert len(shown) == 1
    assert f'href="/cases/{shown[0]}"' not in page_two


# -- the case page -----------------------------------------------------------------------------


def test_a_foreign_case_is_not_found_and_a_missing_one_too(signed_in, world, open_case):
    theirs = open_case(world.bob, nps=2)
    client = signed_in(world.owner)
    assert client.get(f"/cases/{theirs.id}").status_code == 404
    assert client.post(f"/cases/{theirs.id}/activities", data={}).status_code == 404
    assert client.get("/cases/99999999").status_code == 404


def test_the_case_page_shows_what_they_said_escaped_its_priority_and_deadlines(
    signed_in, world, open_case
):
    case = open_case(
        world.ada, nps=2, ratings=(1, 4), text="<script>alert(1)</script> slow", sentiment=-0.9
    )
    html = signed_in(world.owner).get(f"/cases/{case.id}").get_data(as_text=True)
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; slow" in html
    assert "would recommend us" in html
    assert "Ratings, lowest first" in html
    assert "low</span>" in html
    assert "Why this priority" in html
    assert "log₁₀(10 + value)" in html
    assert "First contact" in html
    assert "overdue" in html
    assert "Opened" in html  # the timeline starts with the opening
    for action in ("status", "activities", "tags", "owner", "tell"):
        assert f'action="/cases/{case.id}/{action}"' in html


def test_read_only_users_see_the_case_but_no_forms_and_may_not_post(signed_in, world, open_case):
    case = open_case(world.ada, nps=2)
    for reader in (world.viewer, world.executive):
        client = signed_in(reader)
        html = client.get(f"/cases/{case.id}").get_data(as_text=True)
        assert "Ada Byron" in html
        assert "Read only" in html
        assert '<form method="post" action="/cases/' not in html
        response = client.post(
            f"/cases/{case.id}/activities",
            data={"activity-kind": "call", "activity-body": "rang"},
        )
        assert response.status_code == 403
        client.post("/logout")
    assert _timeline(_fresh(case)) == []


def test_logging_a_call_is_the_first_contact_and_shows_on_the_timeline(signed_in, world, open_case):
    case = open_case(world.ada, nps=2)
    client = signed_in(world.owner)
    response = client.post(
        f"/cases/{case.id}/activities",
        data={"activity-kind": "call", "activity-body": "Rang Ada; she wants a <b>fix</b>."},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/cases/{case.id}"
    case = _fresh(case)
    assert case.status == CaseStatus.CONTACTED
    assert case.first_contact_at is not None
    assert _timeline(case) == [ActivityKind.CALL, ActivityKind.STATUS]
    html = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Activity logged." in html
    assert "Rang Ada; she wants a &lt;b&gt;fix&lt;/b&gt;." in html


def test_an_activity_needs_a_body_and_a_past_time(signed_in, world, open_case):
    case = open_case(world.ada, nps=2)
    client = signed_in(world.owner)
    empty = client.post(f"/cases/{case.id}/activities", data={"activity-kind": "call"})
    assert empty.status_code == 422
    assert "This field is required." in empty.get_data(as_text=True)
    future = client.post(
        f"/cases/{case.id}/activities",
        data={
            "activity-kind": "meeting",
            "activity-body": "lunch",
            "activity-occurred_at": "2999-01-01T12:00",
        },
    )
    assert future.status_code == 422
    assert "has not happened yet" in future.get_data(as_text=True)
    odd = client.post(
        f"/cases/{case.id}/activities", data={"activity-kind": "status", "activity-body": "x"}
    )
    assert odd.status_code == 422
    assert _timeline(_fresh(case)) == []
    assert _fresh(case).status == CaseStatus.OPEN


def test_an_illegal_transition_shows_the_error_and_changes_nothing(signed_in, world, open_case):
    case = open_case(world.ada, nps=2)
    client = signed_in(world.owner)
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    offered = re.search(r'<select[^>]*name="status-to"[^>]*>(.*?)</select>', page, re.S).group(1)
    assert 'value="contacted"' in offered
    assert 'value="closed_unresolved"' in offered
    assert 'value="resolved"' not in offered  # not allowed from open, so not offered
    response = client.post(
        f"/cases/{case.id}/status",
        data={"status-to": "resolved", "status-resolution": "Fixed it."},
    )
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "cannot become resolved" in html
    assert 'role="alert"' in html
    case = _fresh(case)
    assert case.status == CaseStatus.OPEN
    assert case.resolution is None
    assert case.ended_at is None
    assert _timeline(case) == []


def test_resolving_needs_a_resolution_then_ends_the_case(signed_in, world, open_case):
    case = open_case(world.ada, nps=2)
    client = signed_in(world.owner)
    for to in ("contacted", "action_planned"):
        assert client.post(f"/cases/{case.id}/status", data={"status-to": to}).status_code == 302
    missing = client.post(f"/cases/{case.id}/status", data={"status-to": "resolved"})
    assert missing.status_code == 422
    assert "Say what was done" in missing.get_data(as_text=True)
    assert _fresh(case).status == CaseStatus.ACTION_PLANNED
    done = client.post(
        f"/cases/{case.id}/status",
        data={"status-to": "resolved", "status-resolution": "Replaced the support lead."},
    )
    assert done.status_code == 302
    case = _fresh(case)
    assert case.status == CaseStatus.RESOLVED
    assert case.ended_at is not None
    html = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Replaced the support lead." in html
    # An ended case offers no status change, activity or reassignment; root causes remain.
    assert f'action="/cases/{case.id}/status"' not in html
    assert f'action="/cases/{case.id}/activities"' not in html
    assert f'action="/cases/{case.id}/owner"' not in html
    assert f'action="/cases/{case.id}/tags"' in html
    late = client.post(
        f"/cases/{case.id}/activities", data={"activity-kind": "note", "activity-body": "x"}
    )
    assert late.status_code == 409
    assert "timeline is closed" in late.get_data(as_text=True)


def test_root_causes_come_from_the_taxonomy(signed_in, world, open_case, app):
    case = open_case(world.ada, nps=2)
    client = signed_in(world.owner)
    html = client.get(f"/cases/{case.id}").get_data(as_text=True)
    for tag in app.config["FOLLOWUP_ROOT_CAUSES"]:
        assert f'value="{tag}"' in html
    response = client.post(
        f"/cases/{case.id}/tags", data={"tags-tags": ["pricing_value", "communication"]}
    )
    assert response.status_code == 302
    assert [t.tag for t in _fresh(case).tags] == ["communication", "pricing_value"]
    html = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert re.search(r'value="pricing_value"[^>]*checked|checked[^>]*value="pricing_value"', html)
    bad = client.post(f"/cases/{case.id}/tags", data={"tags-tags": ["made_up"]})
    assert bad.status_code == 422
    assert [t.tag for t in _fresh(case).tags] == ["communication", "pricing_value"]
    cleared = client.post(f"/cases/{case.id}/tags", data={})
    assert cleared.status_code == 302
    assert _fresh(case).tags == []


def test_reassigning_offers_only_users_who_may_change_the_account(signed_in, world, open_case):
    case = open_case(world.ada, nps=2)
    colleague = UserFactory(role=Role.ADMIN, name="Ann Admin")
    client = signed_in(world.owner)
    html = client.get(f"/cases/{case.id}").get_data(as_text=True)
    owners = re.search(r'<select[^>]*name="owner-owner"[^>]*>(.*?)</select>', html, re.S).group(1)
    assert "Ann Admin" in owners
    assert "Olivia Owner" in owners
    assert world.viewer.name not in owners
    assert world.other.name not in owners
    refused = client.post(f"/cases/{case.id}/owner", data={"owner-owner": world.other.id})
    assert refused.status_code == 422
    assert _fresh(case).owner_id == world.owner.id
    moved = client.post(f"/cases/{case.id}/owner", data={"owner-owner": colleague.id})
    assert moved.status_code == 302
    assert _fresh(case).owner_id == colleague.id
    assert _timeline(case) == [ActivityKind.ASSIGNED]


def test_telling_the_respondent_queues_one_message_and_shows_it(signed_in, world, open_case):
    case = open_case(world.ada, nps=2)
    client = signed_in(world.owner)
    empty = client.post(f"/cases/{case.id}/tell", data={"tell-message": "  "})
    assert empty.status_code == 422
    response = client.post(
        f"/cases/{case.id}/tell", data={"tell-message": "We are adding a support engineer."}
    )
    assert response.status_code == 302
    queued = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "we_heard_you"))
    assert [m.to_address for m in queued] == ["ada@acme.test"]
    html = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "respondent told" in html
    assert "We are adding a support engineer." in html
    assert f'action="/cases/{case.id}/tell"' not in html
    again = client.post(f"/cases/{case.id}/tell", data={"tell-message": "Again"})
    assert again.status_code == 409
    assert "already told" in again.get_data(as_text=True)
    count = select(func.count()).select_from(OutboxMessage)
    assert db.session.scalar(count.where(OutboxMessage.kind == "we_heard_you")) == 1


def test_a_respondent_without_an_e_mail_cannot_be_told_and_the_page_says_why(
    signed_in, world, open_case
):
    silent = PersonFactory(account=world.acme, first_name="Cy", last_name="Quiet", email=None)
    case = open_case(silent, nps=2)
    client = signed_in(world.owner)
    html = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Cy Quiet has no e-mail address on file." in html
    assert f'action="/cases/{case.id}/tell"' not in html
    refused = client.post(f"/cases/{case.id}/tell", data={"tell-message": "Hello"})
    assert refused.status_code == 409
    assert _fresh(case).told_respondent_at is None


def test_a_group_alerts_case_names_nobody_and_cannot_be_told(signed_in, world, settings):
    alert = Alert(
        kind=AlertKind.SIGNIFICANT_DECLINE,
        account_id=world.acme.id,
        wave_id=world.secret_wave.id,
        severity=AlertSeverity.HIGH,
        confidential=True,
        message="Trust fell 18 points among senior people (n=6).",
        evidence={},
        dedupe_key="decline:acme:trust",
    )
    db.session.add(alert)
    db.session.flush()
    (case,) = service.open_cases_for_alerts(db.session, settings, NOW)
    client = signed_in(world.owner)
    inbox = client.get("/cases").get_data(as_text=True)
    assert "Trust fell 18 points" in inbox
    assert "Alert" in inbox
    html = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Trust fell 18 points among senior people (n=6)." in html
    assert "high severity" in html
    assert "confidential program: nobody is named" in html
    assert "This case names nobody" in html
    assert f'action="/cases/{case.id}/tell"' not in html
    assert "Severity" in html  # the alert's weight in the priority


def test_forms_need_the_csrf_token(app, signed_in, world, open_case, monkeypatch):
    case = open_case(world.ada, nps=2)
    client = signed_in(world.owner)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    forged = client.post(
        f"/cases/{case.id}/activities", data={"activity-kind": "call", "activity-body": "rang"}
    )
    assert forged.status_code == 400
    assert _timeline(_fresh(case)) == []
    token = _csrf(client.get(f"/cases/{case.id}").data)
    signed = client.post(
        f"/cases/{case.id}/activities",
        data={"activity-csrf_token": token, "activity-kind": "call", "activity-body": "rang"},
    )
    assert signed.status_code == 302
    assert ActivityKind.CALL in _timeline(_fresh(case))


def test_the_navigation_links_to_the_inbox(signed_in, world):
    html = signed_in(world.owner).get("/accounts").get_data(as_text=True)
    assert 'href="/cases"' in html


# -- in chromium -------------------------------------------------------------------------------
#
# A server of its own (gunicorn, like tests/web) over a small portfolio seeded here: the flow
# does not depend on the demo's data. Set RELHEALTH_SHOTS=/tmp/shots to keep screenshots.

MANAGER = "mara@relhealth.test"


def _builtin_answers(nps, ratings: dict[str, int], comment: str | None) -> list[Answer]:
    answers = [
        Answer(
            question_key="nps",
            question_type=QuestionType.NPS,
            dimension="overall",
            value=nps,
            scaled=10.0 * nps,
        )
    ]
    for dimension, rating in ratings.items():
        answers.append(
            Answer(
                question_key=dimension,
                question_type=QuestionType.RATING,
                dimension=dimension,
                value=rating,
                scaled=25.0 * (rating - 1),
            )
        )
    if comment:
        answers.append(
            Answer(
                question_key="do_differently",
                question_type=QuestionType.TEXT,
                text=comment,
                sentiment=-0.7,
            )
        )
    return answers


def _seed_portfolio() -> None:
    """A manager with two accounts and four open cases (one overdue); a colleague's account."""
    from tests import factories as f

    manager = f.UserFactory(email=MANAGER, name="Mara Quinn", role=Role.ACCOUNT_MANAGER)
    other = f.UserFactory(role=Role.ACCOUNT_MANAGER, name="Otto Other")
    northwind = f.AccountFactory(
        name="Northwind Traders",
        owner_id=manager.id,
        tier=Tier.STRATEGIC,
        annual_value=Decimal("480000"),
        lifetime_value=Decimal("2400000"),
    )
    contoso = f.AccountFactory(name="Contoso", owner_id=manager.id, annual_value=Decimal("90000"))
    globex = f.AccountFactory(name="Globex", owner_id=other.id)
    wave = f.WaveFactory(program=f.ProgramFactory())
    people = [
        (northwind, "Helena", "Marsh", "executive", 3, {"trust": 2, "value": 1}, LONG),
        (northwind, "Ravi", "Patel", "manager", 5, {"responsiveness": 3}, None),
        (contoso, "Jo", "Lindqvist", "senior", 4, {"communication": 1, "value": 3}, None),
        (globex, "Gus", "Hidden", "staff", 1, {}, None),
    ]
    settings = service.settings_for(current_app.config)
    now = utcnow()
    for index, (account, first, last, level, nps, ratings, comment) in enumerate(people):
        person = f.PersonFactory(
            account=account,
            first_name=first,
            last_name=last,
            seniority=level,
            email=f"{first.lower()}@{account.name.split()[0].lower()}.test",
            title="Head of Operations" if level == "executive" else "Buyer",
        )
        opened = now - dt.timedelta(hours=60 if index == 1 else 3 + index)
        response = Response(
            wave_id=wave.id,
            survey_version_id=wave.survey_version_id,
            person_id=person.id,
            account_id=account.id,
            side=person.side,
            seniority=level,
            submitted_at=opened,
            source=ResponseSource.API,
            answers=_builtin_answers(nps, ratings, comment),
        )
        db.session.add(response)
        db.session.flush()
        service.open_cases_for_response(db.session, response.id, settings, opened)
    db.session.commit()


LONG = (
    "Support tickets sit for days. We escalated twice last quarter and heard nothing back;"
    " the new portal <b>still</b> times out for our regional teams."
)


@pytest.fixture(scope="module")
def case_server(tmp_path_factory):
    """Base URL of a gunicorn serving the seeded portfolio."""
    tmp = tmp_path_factory.mktemp("cases-live")
    with throwaway_database(tmp) as url:
        migrate(url, _seed_portfolio)
        with served(live_env(url, tmp), tmp) as base_url:
            yield base_url


@pytest.mark.browser
def test_a_manager_works_the_top_case_from_the_inbox_to_resolved(browser, case_server):
    from playwright.sync_api import expect

    with new_page(browser) as page:
        sign_in(page, case_server, MANAGER, PASSWORD)
        page.get_by_role("link", name="Cases", exact=True).click()
        expect(page.get_by_role("heading", name="Cases", exact=True)).to_be_visible()
        rows = page.locator("table.case-table tbody tr")
        # Helena: detractor, low score, comment; Ravi: detractor; Jo: detractor, low score.
        expect(rows).to_have_count(6)
        assert "Globex" not in page.content()
        # Ravi's case was opened 60 hours ago: its first contact is overdue, so it leads.
        expect(rows.first).to_contain_text("Ravi Patel")
        expect(rows.first).to_contain_text("Contact overdue")
        shot(page, "cases-inbox-desktop")

        page.get_by_label("Overdue only").check()
        page.get_by_role("button", name="Filter").click()
        expect(rows).to_have_count(1)
        page.get_by_role("link", name="Reset").click()
        expect(rows).to_have_count(6)

        rows.first.locator("a.case-link").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Northwind Traders")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Ravi Patel")
        expect(page.locator(".nps")).to_have_text("5")
        expect(page.get_by_role("heading", name="Why this priority")).to_be_visible()
        shot(page, "case-open-desktop")

        log = page.locator("#log")
        log.get_by_label("Kind").select_option("call")
        log.get_by_label("What happened").fill("Called Ravi: the response times hurt his team.")
        log.get_by_role("button", name="Log it").click()
        expect(page.locator(".flash")).to_have_text("Activity logged.")
        expect(page.locator(".case-head .status")).to_have_text("Contacted")
        expect(page.locator(".timeline")).to_contain_text("Called Ravi")

        status = page.locator("#status")
        status.get_by_label("Move to").select_option("action_planned")
        status.get_by_label("Note").fill("Weekly check-in with their support lead.")
        status.get_by_role("button", name="Change status").click()
        expect(page.locator(".case-head .status")).to_have_text("Action planned")

        status.get_by_label("Move to").select_option("resolved")
        status.get_by_role("button", name="Change status").click()  # no resolution yet
        expect(status.locator(".form-error")).to_contain_text("Say what was done")
        expect(page.locator(".case-head .status")).to_have_text("Action planned")
        status.get_by_label("Move to").select_option("resolved")
        status.get_by_label("Resolution").fill("A named support engineer now answers in 4 hours.")
        status.get_by_role("button", name="Change status").click()
        expect(page.locator(".case-head .status")).to_have_text("Resolved")
        expect(page.locator(".resolution")).to_contain_text("named support engineer")

        tags = page.locator("#tags")
        tags.get_by_label("Support responsiveness").check()
        tags.get_by_role("button", name="Save root causes").click()
        expect(page.locator("#tags").get_by_label("Support responsiveness")).to_be_checked()

        tell = page.locator("#tell")
        tell.get_by_label("What we are doing about it").fill(
            "You now have a named support engineer who answers within four hours."
        )
        tell.get_by_role("button", name="Send").click()
        expect(page.locator(".case-head")).to_contain_text("respondent told")
        expect(page.locator("#tell")).to_contain_text("named support engineer")
        shot(page, "case-resolved-desktop")

        page.goto(f"{case_server}/cases?status=resolved")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("Resolved")


@pytest.mark.browser
def test_the_inbox_and_a_case_fit_a_phone(browser, case_server):
    from playwright.sync_api import expect

    with new_page(browser, viewport=PHONE, device_scale_factor=2) as page:
        sign_in(page, case_server, MANAGER, PASSWORD)
        page.goto(f"{case_server}/cases")
        expect(page.locator("table.case-table tbody tr").first).to_be_visible()
        shot(page, "cases-inbox-phone")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
        page.locator("a.case-link", has_text="Northwind Traders").last.click()
        expect(page.get_by_role("heading", name="What they said")).to_be_visible()
        shot(page, "case-phone")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
