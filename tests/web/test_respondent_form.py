"""A respondent answers a survey from a personal link in chromium: keyboard, errors, phone.

The links are invitations added, committed, to the live server's database, in an open wave of
the Relationship health template, for people of the served demo portfolio.
"""

import datetime as dt
import re
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from relhealth.accounts.models import AccountTeamMember, Person, Side
from relhealth.cohorts.models import (
    Cohort,
    CohortMode,
    Invitation,
    InvitationStatus,
    Program,
    Wave,
    WaveStatus,
)
from relhealth.config import sqlalchemy_url
from relhealth.core.tokens import new_token
from relhealth.db import utcnow
from relhealth.surveys import service
from relhealth.surveys.builtin import DIMENSIONS, install_builtin_surveys
from relhealth.surveys.models import Response, Survey

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class Link:
    token: str
    account: str  # the name of the account it asks about
    invitation_id: int


class LiveLinks:
    """Personal links in the live database: one open wave, a new invitation per link."""

    def __init__(self, url: str, tmp_path):
        self.engine = sa.create_engine(sqlalchemy_url(url, tmp_path))
        self.wave_id: int | None = None

    def _wave(self, session: Session) -> int:
        if self.wave_id is None:
            now = utcnow()
            install_builtin_surveys(session)
            survey = session.scalar(select(Survey).where(Survey.key == "relationship-health"))
            version = service.latest_version(session, survey)
            service.freeze_version(session, version, now)
            program = Program(
                name="Browser test program",
                survey_id=survey.id,
                cohort=Cohort(name="Browser test cohort", mode=CohortMode.DYNAMIC, rule={}),
                starts_at=now,
                active=False,
            )
            session.add(program)
            session.flush()
            wave = Wave(
                program_id=program.id,
                occurrence="browser-test",
                survey_version_id=version.id,
                opens_at=now - dt.timedelta(hours=1),
                closes_at=now + dt.timedelta(days=14),
                status=WaveStatus.OPEN,
            )
            session.add(wave)
            session.flush()
            self.wave_id = wave.id
        return self.wave_id

    def new(self, side: Side = Side.EXTERNAL) -> Link:
        """A fresh link for someone not yet invited."""
        with Session(self.engine) as session:
            wave_id = self._wave(session)
            invited = select(Invitation.person_id).where(Invitation.wave_id == wave_id)
            if side == Side.EXTERNAL:
                person = session.scalars(
                    select(Person)
                    .where(Person.side == Side.EXTERNAL, Person.id.not_in(invited))
                    .order_by(Person.id)
                    .limit(1)
                ).one()
                account = person.account
            else:
                member = session.scalars(
                    select(AccountTeamMember)
                    .where(AccountTeamMember.person_id.not_in(invited))
                    .order_by(AccountTeamMember.id)
                    .limit(1)
                ).one()
                person, account = member.person, member.account
            plain, hashed = new_token()
            invitation = Invitation(
                wave_id=wave_id,
                person_id=person.id,
                account_id=account.id,
                side=person.side,
                seniority=person.seniority,
                status=InvitationStatus.INVITED,
                token_hash=hashed,
                expires_at=utcnow() + dt.timedelta(days=14),
                invited_at=utcnow(),
            )
            session.add(invitation)
            session.commit()
            return Link(plain, account.name, invitation.id)

    def response(self, link: Link) -> Response | None:
        """The response given through ``link``, with its answers."""
        with Session(self.engine) as session:
            return session.scalar(
                select(Response).where(Response.invitation_id == link.invitation_id)
            )


@pytest.fixture(scope="module")
def links(live_server, live_database, tmp_path_factory):
    links = LiveLinks(live_database, tmp_path_factory.mktemp("links"))
    yield links
    links.engine.dispose()


def test_a_respondent_answers_with_the_keyboard_and_is_thanked(page, live_server, links):
    link = links.new()
    page.goto(f"{live_server}/s/{link.token}")
    expect(
        page.get_by_role("heading", name="How is working with Our company going?")
    ).to_be_visible()
    expect(
        page.get_by_role("group", name=re.compile("How likely are you to recommend"))
    ).to_be_visible()

    page.locator("#q-nps-0").focus()
    for _ in range(9):
        page.keyboard.press("ArrowRight")  # arrows move through a radio group and select
    expect(page.locator("#q-nps-9")).to_be_checked()
    for dimension in DIMENSIONS:
        page.keyboard.press("Tab")  # into the next group, on its first choice
        expect(page.locator(f"#q-{dimension}-1")).to_be_focused()
        for _ in range(3):
            page.keyboard.press("ArrowRight")
        expect(page.locator(f"#q-{dimension}-4")).to_be_checked()
    page.keyboard.press("Tab")
    expect(page.get_by_label(re.compile("What should we do differently"))).to_be_focused()
    page.keyboard.type("Keep the same account team, please.")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Send my answers")).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    answers = {a.question_key: a for a in links.response(link).answers}
    assert answers["nps"].value == 9
    assert answers["ease_of_business"].value == 4
    assert answers["do_differently"].text == "Keep the same account team, please."

    page.goto(f"{live_server}/s/{link.token}")
    expect(page.get_by_role("heading", name="We already have your answers")).to_be_visible()


def test_a_missing_answer_shows_the_error_summary_linked_to_the_question(page, live_server, links):
    link = links.new()
    page.goto(f"{live_server}/s/{link.token}")
    page.locator("label[for='q-nps-10']").click()
    for dimension in DIMENSIONS[1:]:
        page.locator(f"label[for='q-{dimension}-5']").click()
    page.get_by_role("button", name="Send my answers").click()

    summary = page.get_by_role("alert")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link")).to_have_count(1)
    summary.get_by_role("link", name="Question 2: Choose a number from 1 to 5.").click()
    expect(page.locator("#q-trust-1")).to_be_focused()
    expect(page.locator("#q-trust-1")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#q-nps-10")).to_be_checked()  # what was given is kept
    expect(page).to_have_title(re.compile("^Error: "))


def test_our_people_read_the_internal_wording_with_the_account_name(page, live_server, links):
    link = links.new(Side.INTERNAL)
    account = link.account
    page.goto(f"{live_server}/s/{link.token}")
    expect(page.get_by_role("heading", name=f"Your view of {account}")).to_be_visible()
    expect(
        page.get_by_role(
            "group",
            name=re.compile(f"How likely do you think {re.escape(account)} is to recommend"),
        )
    ).to_be_visible()


def test_the_form_fits_a_phone_screen(browser, live_server, links, tmp_path):
    link = links.new()
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    phone = context.new_page()
    phone.goto(f"{live_server}/s/{link.token}")
    phone.get_by_role("button", name="Send my answers").click()  # with every error showing
    expect(phone.get_by_role("alert")).to_be_visible()
    phone.screenshot(path=tmp_path / "respondent-phone.png", full_page=True)
    overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    box = phone.locator("label[for='q-nps-10']").bounding_box()
    assert box["width"] >= 24  # WCAG 2.2 target size (minimum)
    assert box["height"] >= 44
    context.close()


def test_unknown_links_answer_a_friendly_not_found(page, live_server):
    response = page.goto(f"{live_server}/s/no-such-link")
    assert response.status == 404
    expect(page.get_by_role("heading", name="This link does not work")).to_be_visible()
