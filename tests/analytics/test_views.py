"""The account trends page, the portfolio dashboard and their CSV links, through the client."""

import datetime as dt

from relhealth.accounts.models import Side
from relhealth.auth.models import Role
from relhealth.cohorts.models import Confidentiality
from relhealth.extensions import db
from relhealth.surveys.models import Answer, QuestionType, Response, ResponseSource
from tests.factories import (
    AccountFactory,
    PersonFactory,
    ProgramFactory,
    StaffFactory,
    UserFactory,
    WaveFactory,
)

Q1 = dt.datetime(2025, 1, 15, tzinfo=dt.UTC)
Q2 = dt.datetime(2025, 4, 15, tzinfo=dt.UTC)


def answer(person, account, when, score, *, wave=None, text=None):
    """One response: an NPS answer and a rating on 'responsiveness', both at ``score`` 0-100."""
    answers = [
        Answer(
            question_key="nps",
            question_type=QuestionType.NPS,
            dimension="loyalty",
            value=round(score / 10),
            scaled=round(score / 10) * 10.0,
        ),
        Answer(
            question_key="responsive",
            question_type=QuestionType.RATING,
            dimension="responsiveness",
            value=1 + 4 * score / 100,
            scaled=float(score),
        ),
    ]
    if text:
        answers.append(
            Answer(
                question_key="comment", question_type=QuestionType.TEXT, text=text, sentiment=-0.5
            )
        )
    response = Response(
        person_id=person.id,
        account_id=account.id,
        side=person.side,
        seniority=person.seniority,
        submitted_at=when,
        wave_id=wave.id if wave else None,
        source=ResponseSource.IMPORT,
        answers=answers,
    )
    db.session.add(response)
    db.session.flush()
    return response


def history(account, people=4, ours=2):
    """Two quarters of answers from ``people`` of theirs and ``ours`` of ours."""
    theirs = [PersonFactory(account=account) for _ in range(people)]
    staff = [StaffFactory() for _ in range(ours)]
    for index, person in enumerate(theirs):
        answer(person, account, Q1, 70 + index)
        answer(person, account, Q2, 60 + index, text="Support is slow to respond.")
    for index, person in enumerate(staff):
        answer(person, account, Q1, 85 + index)
        answer(person, account, Q2, 80 + index)
    return theirs, staff


def test_trends_page_of_a_foreign_account_is_not_found(signed_in):
    account = AccountFactory()
    history(account)
    client = signed_in(UserFactory(role=Role.ACCOUNT_MANAGER))
    for url in (
        f"/accounts/{account.id}/trends",
        f"/accounts/{account.id}/trends.csv",
        f"/accounts/{account.id}/gaps.csv",
        f"/accounts/{account.id}/panel.csv",
    ):
        assert client.get(url).status_code == 404


def test_an_account_without_answers_says_so(signed_in):
    account = AccountFactory()
    html = signed_in(UserFactory(role=Role.ADMIN)).get(f"/accounts/{account.id}/trends").text
    assert "No answers yet" in html
    assert "<svg" not in html


def test_too_few_respondents_read_as_insufficient_signal_with_their_n(signed_in):
    account = AccountFactory()
    for person in (PersonFactory(account=account), PersonFactory(account=account)):
        answer(person, account, Q1, 70)
    html = signed_in(UserFactory(role=Role.ADMIN)).get(f"/accounts/{account.id}/trends").text
    assert "insufficient signal (n=2)" in html


def test_trends_page_shows_headline_chart_gaps_and_breakdowns(signed_in):
    account = AccountFactory(name="Acme <b>& Co</b>")
    history(account)
    client = signed_in(UserFactory(role=Role.ADMIN))
    html = client.get(f"/accounts/{account.id}/trends").text
    assert "Acme &lt;b&gt;&amp; Co&lt;/b&gt;" in html
    assert "<b>& Co</b>" not in html
    assert "Health index" in html
    assert 'class="chart chart-trend"' in html
    assert "n=4" in html  # their four people in the latest wave
    assert "Ours vs theirs" in html
    assert f"/accounts/{account.id}/trends.csv" in html
    side = client.get(f"/accounts/{account.id}/trends?by=side").text
    assert "Their side" in side
    assert 'aria-current="true">Side<' in side
    seniority = client.get(f"/accounts/{account.id}/trends?by=seniority").text
    assert 'class="chart chart-heatmap"' in seniority
    # An unknown breakdown is ignored rather than an error.
    assert client.get(f"/accounts/{account.id}/trends?by=<x>").status_code == 200


def test_csv_links_answer_csv_with_the_api_columns(signed_in):
    account = AccountFactory()
    history(account)
    client = signed_in(UserFactory(role=Role.ADMIN))
    response = client.get(f"/accounts/{account.id}/trends.csv?by=side")
    assert response.mimetype == "text/csv"
    header = response.text.splitlines()[0].split(",")
    assert "wave_at" in header
    assert "side" in header
    assert "respondents" in header
    assert "status" in header
    gaps = client.get(f"/accounts/{account.id}/gaps.csv?table=top_vs_line")
    assert gaps.mimetype == "text/csv"
    assert client.get(f"/accounts/{account.id}/gaps.csv?table=nope").status_code == 404


def test_portfolio_lists_only_readable_accounts_with_their_health(signed_in):
    manager = UserFactory(role=Role.ACCOUNT_MANAGER)
    mine = AccountFactory(name="Mine Ltd", owner=manager)
    history(mine)
    AccountFactory(name="Foreign Ltd")
    client = signed_in(manager)
    html = client.get("/portfolio/health").text
    assert "Mine Ltd" in html
    assert "Foreign Ltd" not in html
    assert 'class="chart chart-portfolio"' in html
    assert "Movers" in html  # their health fell from the first quarter to the second
    assert "\u25bc" in html.split("Movers", 1)[1].split("</ul>", 1)[0]
    csv = client.get("/portfolio/health.csv")
    assert csv.mimetype == "text/csv"
    assert "Mine Ltd" in csv.text
    assert "Foreign Ltd" not in csv.text


def test_the_account_page_and_navigation_link_to_the_new_pages(signed_in):
    account = AccountFactory()
    html = signed_in(UserFactory(role=Role.ADMIN)).get(f"/accounts/{account.id}").text
    assert f'href="/accounts/{account.id}/trends"' in html
    assert 'href="/portfolio/health"' in html


def test_the_map_writes_each_persons_latest_score_and_its_change(signed_in):
    account = AccountFactory()
    history(account, people=1, ours=0)
    client = signed_in(UserFactory(role=Role.ADMIN))
    html = client.get(f"/accounts/{account.id}/map").text
    assert 'class="node-score"' in html
    assert "60/100 (-10 since their previous answer)" in html


def test_the_map_shows_no_per_person_score_in_a_confidential_program(signed_in):
    account = AccountFactory()
    program = ProgramFactory(confidentiality=Confidentiality.CONFIDENTIAL, min_group_size=3)
    wave = WaveFactory(program=program)
    person = PersonFactory(account=account, side=Side.EXTERNAL)
    answer(person, account, Q2, 60, wave=wave, text="Terrible support.")
    html = signed_in(UserFactory(role=Role.ADMIN)).get(f"/accounts/{account.id}/map").text
    assert "node-score" not in html
    assert "Latest score" not in html
    assert "Latest sentiment" not in html


def test_the_api_map_svg_carries_the_same_per_person_scores(api):
    account = AccountFactory()
    history(account, people=1, ours=0)
    response = api.as_(UserFactory(role=Role.ADMIN)).get(f"/api/v1/accounts/{account.id}/map.svg")
    assert response.status_code == 200
    assert b'class="node-score"' in response.data
    assert b"60/100 (-10 since their previous answer)" in response.data
