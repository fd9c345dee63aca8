"""The PDF reports carry the analytics' own figures, every chart and the map, in sane pages."""

import datetime as dt
import subprocess

import pytest
from sqlalchemy import func, select

from relhealth.accounts import service as accounts_service
from relhealth.accounts.models import Account, AccountKind, Person
from relhealth.analytics import metrics
from relhealth.analytics import service as analytics
from relhealth.analytics.people import whom_we_hear_from
from relhealth.analytics.summaries import headline
from relhealth.auth.models import Role, User
from relhealth.cohorts.models import Confidentiality, Program
from relhealth.core.errors import InvalidInput
from relhealth.demo import generate_portfolio, seed_database, seed_survey_history
from relhealth.reports import content, service
from relhealth.surveys.models import Response
from tests import factories as f

TODAY = dt.date(2026, 11, 26)
NOW = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC)


def pdf_text(pdf: bytes) -> str:
    out = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True)
    return out.stdout.decode()


def pages(pdf: bytes) -> int:
    info = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, text=False).stdout
    line = next(x for x in info.decode().splitlines() if x.startswith("Pages:"))
    return int(line.split()[1])


@pytest.fixture
def demo(session):
    seed_database(session, generate_portfolio(seed=3, accounts=4, today=TODAY))
    session.commit()
    seed_survey_history(session, TODAY, seed=3)
    return session


def _largest(session, kind: AccountKind) -> Account:
    return session.scalar(
        select(Account)
        .join(Response, Response.account_id == Account.id)
        .where(Account.kind == kind)
        .group_by(Account.id)
        .order_by(func.count(Response.id).desc())
        .limit(1)
    )


def test_the_account_report_carries_the_analytics_figures_every_chart_and_the_map(demo):
    account = _largest(demo, AccountKind.CUSTOMER)
    settings = analytics.analytics_settings()
    pdf = service.render_account_report(demo, account, now=NOW)
    text = pdf_text(pdf)

    answers = analytics.load_answers(demo, account_ids=[account.id])
    overall = analytics.account_trends(demo, account, None, settings)
    figures = headline(metrics.health_per_wave(answers, settings), overall)
    assert f"{figures['health']['value']:.0f} out of 100" in text
    assert f"Their NPS is {figures['nps']['value']:+.0f}" in text
    gaps = analytics.account_gaps(demo, account, settings)["gaps"]
    widest = gaps[gaps["status"].eq("ok")].sort_values("gap", key=abs).iloc[-1]
    assert f"a gap of {widest['gap']:+.0f} points" in text

    assert account.name in text
    assert "27 Nov 2026" in text
    stakeholders, _ = accounts_service.account_map(demo, account)
    heard = whom_we_hear_from(stakeholders, answers, accounts_service.graph_settings())
    flat = " ".join(text.split())
    heard_line = (
        f"{heard['external']['overall']['heard']} of their "
        f"{heard['external']['overall']['total']} people answered a survey since"
    )
    assert heard_line in flat
    assert heard["external"]["overall"]["heard"] > 0
    for title in (
        "Executive summary",
        "Strategic alignment, Trust",
        "Ours vs theirs per dimension",
        "Their side: scores by seniority and wave",
        "Stakeholder map and coverage gaps",
        "Panel movement",
        "NPS migration",
        "In their own words",
        "Appendix: method and every n",
    ):
        assert title in text, title
    count = pages(pdf)
    assert 6 <= count <= 25
    assert f"Page {count} of {count}" in text


def test_an_account_without_answers_gets_a_short_report_that_says_so(session):
    account = f.AccountFactory(name="Quiet Quarry")
    pdf = service.render_account_report(session, account, now=NOW)
    text = " ".join(pdf_text(pdf).split())
    assert "Nobody at Quiet Quarry has answered a relationship survey yet" in text
    assert "No survey answers yet" in text
    assert pages(pdf) <= 4


def test_the_partner_report_puts_both_sides_side_by_side(demo):
    partner = _largest(demo, AccountKind.PARTNER)
    settings = analytics.analytics_settings()
    text = pdf_text(service.render_partner_report(demo, partner, now=NOW))
    gaps = analytics.account_gaps(demo, partner, settings)["gaps"]
    assert "THEIRS" in text
    assert "OURS" in text
    for row in gaps[gaps["status"].eq("ok")].to_dict("records"):
        assert content.dimension_label(row["dimension"]) in text
        assert f"{row['gap']:+.0f}" in text
    assert "Where they disagree" in text
    assert "Both sides over time" in text


def test_a_partner_report_of_a_customer_is_refused(demo):
    with pytest.raises(InvalidInput):
        service.render_partner_report(demo, _largest(demo, AccountKind.CUSTOMER))


def test_the_portfolio_report_ranks_every_account_with_its_movers(demo):
    reader = User(role=Role.ADMIN, name="reader", email="r@example.com")
    settings = analytics.analytics_settings()
    pdf = service.render_portfolio_report(demo, reader, now=NOW)
    text = pdf_text(pdf)
    summary = analytics.portfolio_summary(demo, reader, {}, settings)
    for row in summary.to_dict("records"):
        assert row["name"] in text
    worst = summary[summary["health_status"].eq("ok")].sort_values("health").iloc[0]
    assert f"The weakest is {worst['name']} at {worst['health']:.0f}" in " ".join(text.split())
    assert "Biggest movers since the previous wave" in text
    assert "Accounts by health, with value at risk" in text
    customers = pdf_text(
        service.render_portfolio_report(demo, reader, filters={"kind": AccountKind.CUSTOMER})
    )
    partners = summary[summary["kind"].eq("partner")]["name"]
    assert not any(f" {name} " in customers for name in partners)


def test_confidential_programs_name_nobody_in_verbatims_or_drop_outs(demo):
    account = _largest(demo, AccountKind.CUSTOMER)
    identified = service.render_account_report(demo, account, now=NOW)
    said = analytics.load_answers(demo, account_ids=[account.id])
    speakers = {
        f"{p.first_name} {p.last_name}"
        for p in demo.scalars(
            select(Person).where(Person.id.in_(said[said["text"].notna()]["person_id"].tolist()))
        )
    }
    quotes = pdf_text(identified).split("In their own words")[-1].split("Appendix")[0]
    assert any(name in quotes for name in speakers)  # identified: quotes carry names

    for program in demo.scalars(select(Program)):
        program.confidentiality = Confidentiality.CONFIDENTIAL
        program.min_group_size = 3
    demo.flush()
    text = pdf_text(service.render_account_report(demo, account, now=NOW))
    quotes = text.split("In their own words")[-1].split("Appendix")[0]
    drop_outs = text.split("Drop-outs in the latest wave")[-1].split("In their own words")[0]
    assert "Quotes from confidential programs carry no name" in " ".join(quotes.split())
    assert not any(name in quotes or name in drop_outs for name in speakers)
    assert "confidential program (not named)" in " ".join(drop_outs.split())


def test_a_group_nobody_in_answered_has_n_0_and_only_a_suppressed_one_hides_it():
    assert content.n_label(4, "ok") == "n=4"
    assert content.n_label(None, "insufficient") == "n=0"
    assert content.n_label(None, "suppressed") == "n=\u2013"
