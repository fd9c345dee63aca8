"""The demo portfolio: deterministic, realistic, and with the gaps it promises."""

import datetime as dt
from collections import Counter, defaultdict

from sqlalchemy import func, select

from relhealth.accounts.models import Account, Person, Relationship
from relhealth.accounts.rules import reporting_cycle
from relhealth.accounts.seniority import infer_seniority
from relhealth.auth.models import User
from relhealth.cohorts.models import Wave
from relhealth.demo import generate_portfolio, is_empty, seed_database, seed_survey_history
from relhealth.messaging.models import MessageStatus, OutboxMessage
from relhealth.surveys.models import Answer, Response

TODAY = dt.date(2026, 11, 26)


def test_the_same_seed_gives_the_same_portfolio_and_another_seed_another():
    assert generate_portfolio(3, today=TODAY) == generate_portfolio(3, today=TODAY)
    assert generate_portfolio(3, today=TODAY) != generate_portfolio(4, today=TODAY)


def test_a_dozen_customers_and_a_few_partners_across_tiers_with_8_to_40_people_each():
    portfolio = generate_portfolio(today=TODAY)
    kinds = Counter(a["kind"] for a in portfolio.accounts)
    assert kinds == {"customer": 12, "partner": 4}
    assert {a["tier"] for a in portfolio.accounts} == {"strategic", "key", "standard"}
    per_account = Counter(p["account_crm_id"] for p in portfolio.people if p["account_crm_id"])
    assert all(8 <= n <= 40 for n in per_account.values())
    levels_per_account = defaultdict(set)
    for person in portfolio.people:
        levels_per_account[person["account_crm_id"]].add(person["seniority"])
    assert all(len(levels) == 4 for levels in levels_per_account.values())


def test_titles_are_ones_the_title_rules_place_on_the_same_level():
    portfolio = generate_portfolio(today=TODAY)
    assert all(infer_seniority(p["title"]) == p["seniority"] for p in portfolio.people)


def test_reporting_lines_are_acyclic_and_coverage_has_deliberate_gaps():
    portfolio = generate_portfolio(today=TODAY)
    lines = [
        (r["source"], r["target"]) for r in portfolio.relationships if r["kind"] == "reports_to"
    ]
    assert reporting_cycle(lines) is None
    covers = [r for r in portfolio.relationships if r["kind"] == "covers"]
    covered = {r["target"] for r in covers}
    executives = [
        p for p in portfolio.people if p["side"] == "external" and p["seniority"] == "executive"
    ]
    assert any(p["email"] not in covered for p in executives)  # uncovered executives
    coverers = defaultdict(set)
    for r in covers:
        coverers[r["target"].split("@")[1]].add(r["source"])
    assert any(len(ours) == 1 for ours in coverers.values())  # single-threaded accounts
    stale = [r for r in covers if (TODAY - dt.date.fromisoformat(r["last_contact_on"])).days > 90]
    assert stale


def test_it_scales_for_benchmarks():
    portfolio = generate_portfolio(accounts=400, today=TODAY)
    assert len(portfolio.accounts) == 400
    assert len({p["email"] for p in portfolio.people}) == len(portfolio.people)
    assert len({a["name"] for a in portfolio.accounts}) == 400


def test_seeding_writes_the_whole_portfolio_into_an_empty_database(session):
    assert is_empty(session)
    portfolio = generate_portfolio(today=TODAY)
    counts = seed_database(session, portfolio)
    assert counts["accounts"] == session.scalar(select(func.count()).select_from(Account)) == 16
    assert session.scalar(select(func.count()).select_from(Person)) == len(portfolio.people)
    assert session.scalar(select(func.count()).select_from(Relationship)) == len(
        portfolio.relationships
    )
    manager = session.scalar(select(User).where(User.email == "manager@relhealth.demo"))
    assert manager.person is not None
    assert manager.person.title == "Key Account Manager"
    assert not is_empty(session)


def test_two_years_of_waves_show_the_dynamics_the_demo_promises(session):
    seed_database(session, generate_portfolio(today=TODAY))
    counts = seed_survey_history(session, TODAY)
    assert counts["survey waves"] == 16  # eight quarters of two programs
    rows = session.execute(
        select(Response.account_id, Response.side, Response.seniority, Answer.value, Wave.opens_at)
        .join(Answer, Answer.response_id == Response.id)
        .join(Wave, Wave.id == Response.wave_id)
        .where(Answer.question_key == "nps")
    ).all()
    assert len(rows) == counts["responses"]

    def mean(values):
        values = list(values)
        return sum(values) / len(values)

    internal = mean(r.value for r in rows if r.side.value == "internal")
    external = mean(r.value for r in rows if r.side.value == "external")
    assert internal > external + 0.5  # our people see it rosier than theirs
    top = mean(r.value for r in rows if r.side.value == "external" and r.seniority == "executive")
    line = mean(r.value for r in rows if r.side.value == "external" and r.seniority != "executive")
    assert top < line  # executives are more critical than the line
    first, last = min(r.opens_at for r in rows), max(r.opens_at for r in rows)
    by_account = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r.side.value == "external" and r.opens_at in (first, last):
            by_account[r.account_id][r.opens_at].append(r.value)
    declines = [
        mean(waves[first]) - mean(waves[last])
        for waves in by_account.values()
        if waves[first] and waves[last]
    ]
    assert any(drop > 1.5 for drop in declines)  # some accounts decline over two years
    assert session.scalar(
        select(func.count()).select_from(Person).where(Person.left_on.is_not(None))
    )


def test_the_demos_past_e_mails_are_history_not_mail_waiting_to_go(session):
    seed_database(session, generate_portfolio(accounts=4, today=TODAY))
    seed_survey_history(session, TODAY)
    statuses = set(session.scalars(select(OutboxMessage.status)))
    assert statuses == {MessageStatus.SENT}
