"""Closed-loop KPIs and root causes (relhealth.followup.kpis) against hand computations."""

import datetime as dt
import random
import statistics
from decimal import Decimal

import pytest

from relhealth.auth.models import Role
from relhealth.extensions import db
from relhealth.followup import kpis
from relhealth.followup.models import Case, CaseReason, CaseStatus, CaseTag
from relhealth.followup.rules import FollowupSettings, due_dates
from relhealth.surveys.models import Response, ResponseSource
from tests.factories import AccountFactory, AssignmentFactory, PersonFactory, UserFactory

NOW = dt.datetime(2026, 3, 20, 12, 0, tzinfo=dt.UTC)
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
END = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
SETTINGS = FollowupSettings()  # first contact due in 48 hours, resolution in 14 days
ENDED = (CaseStatus.RESOLVED, CaseStatus.CLOSED_UNRESOLVED)


def make_case(
    account,
    opened_at,
    *,
    status=CaseStatus.OPEN,
    contact_after=None,
    ended_after=None,
    told=False,
    owner=None,
    value=Decimal("100000.00"),
    held=False,
    reason=CaseReason.DETRACTOR,
    tags=(),
):
    """A case written straight to the database; ``contact_after``/``ended_after``: timedeltas."""
    person = PersonFactory(account=account)
    response = Response(
        person_id=person.id,
        account_id=account.id,
        side=person.side,
        seniority=person.seniority,
        submitted_at=opened_at,
        source=ResponseSource.IMPORT,
    )
    db.session.add(response)
    db.session.flush()
    first_contact_due, resolution_due = due_dates(opened_at, SETTINGS)
    contacted = opened_at + contact_after if contact_after is not None else None
    ended = opened_at + ended_after if ended_after is not None else None
    case = Case(
        reason=reason,
        open_key=None if status in ENDED else f"{reason}:person:{person.id}",
        account_id=account.id,
        person_id=person.id,
        response_id=response.id,
        title="Detractor",
        score=3,
        owner_id=owner.id if owner else None,
        priority=1.0,
        priority_parts={},
        value_at_stake=value,
        status=status,
        held=held,
        opened_at=opened_at,
        first_contact_due=first_contact_due,
        resolution_due=resolution_due,
        first_contact_at=contacted,
        ended_at=ended,
        resolution="Fixed it." if status == CaseStatus.RESOLVED else None,
        told_respondent_at=(ended or contacted or opened_at) if told else None,
        tags=[CaseTag(tag=tag) for tag in tags],
    )
    db.session.add(case)
    db.session.flush()
    return case


def hours(n):
    return dt.timedelta(hours=n)


def days(n):
    return dt.timedelta(days=n)


@pytest.fixture
def world():
    """Five detractor cases with hand-worked KPIs, and cases that must not count.

    | case | opened     | owner | value   | first contact | ended              | told |
    | A    | 2026-01-05 | one   | 100,000 | +10 h         | resolved +4 d      | yes  |
    | B    | 2026-01-10 | two   | 100,000 | +60 h (late)  | resolved +20 d (late) | no |
    | C    | 2026-02-01 | one   | 200,000 | none (overdue)| open (overdue)     | no   |
    | D    | 2026-02-10 | two   |  10,000 | +24 h         | closed unresolved +5 d | no |
    | E    | 2026-03-19 | none  |  30,000 | none (not due)| open (not due)     | no   |
    """
    one = UserFactory(role=Role.ACCOUNT_MANAGER, name="Owner One")
    two = UserFactory(role=Role.ACCOUNT_MANAGER, name="Owner Two")
    first = AccountFactory(name="First", owner=one)
    second = AccountFactory(name="Second", owner=two)
    third = AccountFactory(name="Third")
    at = dt.datetime
    cases = {
        "A": make_case(
            first,
            at(2026, 1, 5, 9, tzinfo=dt.UTC),
            status=CaseStatus.RESOLVED,
            contact_after=hours(10),
            ended_after=days(4),
            told=True,
            owner=one,
            tags=("pricing_value", "support_responsiveness"),
        ),
        "B": make_case(
            first,
            at(2026, 1, 10, 9, tzinfo=dt.UTC),
            status=CaseStatus.RESOLVED,
            contact_after=hours(60),
            ended_after=days(20),
            owner=two,
            tags=("pricing_value",),
        ),
        "C": make_case(
            second,
            at(2026, 2, 1, 9, tzinfo=dt.UTC),
            owner=one,
            value=Decimal("200000.00"),
            tags=("pricing_value", "delivery"),
        ),
        "D": make_case(
            second,
            at(2026, 2, 10, 9, tzinfo=dt.UTC),
            status=CaseStatus.CLOSED_UNRESOLVED,
            contact_after=hours(24),
            ended_after=days(5),
            owner=two,
            value=Decimal("10000.00"),
            tags=("delivery",),
        ),
        "E": make_case(
            third, at(2026, 3, 19, 9, tzinfo=dt.UTC), value=Decimal("30000.00"), tags=("billing",)
        ),
    }
    # Not counted: a held case (control arm), a low-score case, one opened before the range.
    make_case(third, at(2026, 2, 2, tzinfo=dt.UTC), held=True, tags=("billing",))
    make_case(third, at(2026, 2, 3, tzinfo=dt.UTC), reason=CaseReason.LOW_SCORE)
    make_case(third, at(2025, 12, 31, 23, tzinfo=dt.UTC), tags=("billing",))
    return {"one": one, "two": two, "accounts": (first, second, third), **cases}


def test_overall_kpis_match_the_hand_computation(world):
    admin = UserFactory(role=Role.ADMIN)
    result = kpis.closed_loop_kpis(db.session, admin, start=START, end=END, now=NOW)
    assert result["groups"] == []
    assert result["overall"] == {
        "detractors": 5,
        "resolved": 2,
        "closed_unresolved": 1,
        "open": 2,
        "resolved_pct": 40.0,
        "value": 440000.0,
        "resolved_value": 200000.0,
        "resolved_value_pct": 45.5,
        "contacted": 3,
        "first_contact_hours_median": 24.0,  # 10, 24, 60
        "first_contact_hours_mean": 31.3,
        "resolution_days_median": 12.0,  # 4 and 20: the closed-unresolved case is no resolution
        "resolution_days_mean": 12.0,
        "first_contact_breaches": 2,  # B late, C never and past due; E not due yet
        "resolution_breaches": 3,  # B late, C overdue, D closed unresolved and past due
        "breached": 3,
        "breached_pct": 60.0,
        "told": 1,
        "told_pct": 20.0,
    }


def test_breaches_depend_on_now(world):
    admin = UserFactory(role=Role.ADMIN)
    later = kpis.closed_loop_kpis(db.session, admin, start=START, end=END, now=NOW + days(20))[
        "overall"
    ]
    # E's first contact (due 2026-03-21) and resolution (due 2026-04-02) are both past due now.
    assert later["first_contact_breaches"] == 3
    assert later["resolution_breaches"] == 4
    early = kpis.closed_loop_kpis(
        db.session, admin, start=START, end=END, now=dt.datetime(2026, 1, 6, tzinfo=dt.UTC)
    )["overall"]
    # B's contact and resolution came after their due times, whatever ``now`` is; C's and D's
    # due times had not passed yet.
    assert early["first_contact_breaches"] == 1
    assert early["resolution_breaches"] == 1


def test_by_owner_groups_with_unassigned_and_names(world):
    admin = UserFactory(role=Role.ADMIN)
    result = kpis.closed_loop_kpis(db.session, admin, start=START, end=END, by="owner", now=NOW)
    groups = {g["label"]: g for g in result["groups"]}
    assert set(groups) == {"Owner One", "Owner Two", "Unassigned"}
    assert groups["Owner One"]["key"] == world["one"].id
    assert groups["Owner One"]["detractors"] == 2  # A, C
    assert groups["Owner One"]["resolved_pct"] == 50.0
    assert groups["Owner One"]["resolved_value_pct"] == 33.3  # 100k of 300k
    assert groups["Owner One"]["first_contact_hours_median"] == 10.0
    assert groups["Owner Two"]["first_contact_hours_median"] == 42.0  # (24 + 60) / 2
    assert groups["Owner Two"]["resolution_days_median"] == 20.0
    assert groups["Owner Two"]["breached"] == 2
    assert groups["Unassigned"]["key"] is None
    assert groups["Unassigned"]["breached"] == 0
    # The overall row is the same as without a breakdown.
    plain = kpis.closed_loop_kpis(db.session, admin, start=START, end=END, now=NOW)
    assert result["overall"] == plain["overall"]


def test_by_account_and_by_period(world):
    admin = UserFactory(role=Role.ADMIN)
    by_account = kpis.closed_loop_kpis(
        db.session, admin, start=START, end=END, by="account", now=NOW
    )
    assert [(g["label"], g["detractors"]) for g in by_account["groups"]] == [
        ("First", 2),
        ("Second", 2),
        ("Third", 1),
    ]
    months = kpis.closed_loop_kpis(db.session, admin, start=START, end=END, by="period", now=NOW)
    assert [g["key"] for g in months["groups"]] == ["2026-01", "2026-02", "2026-03"]
    assert [g["label"] for g in months["groups"]] == ["Jan 2026", "Feb 2026", "Mar 2026"]
    january, february, march = months["groups"]
    assert january["first_contact_hours_median"] == 35.0  # 10 and 60
    assert january["resolved_pct"] == 100.0
    assert february["first_contact_hours_median"] == 24.0
    assert february["resolution_days_median"] is None  # nothing resolved
    assert march["first_contact_hours_median"] is None
    assert march["breached"] == 0
    quarters = kpis.closed_loop_kpis(
        db.session, admin, start=START, end=END, by="period", period="quarter", now=NOW
    )
    assert [(g["key"], g["detractors"]) for g in quarters["groups"]] == [("2026Q1", 5)]


def test_medians_and_means_agree_with_python_on_random_durations():
    account = AccountFactory()
    rng = random.Random(11)  # noqa: S311 -- test data
    contact, resolution = [], []
    opened = dt.datetime(2026, 1, 3, 8, tzinfo=dt.UTC)
    for index in range(23):
        when = opened + hours(index * 7)
        contact_hours = rng.uniform(0.5, 150)
        resolved = rng.random() < 0.6
        ended_days = contact_hours / 24 + rng.uniform(0.1, 30)
        make_case(
            account,
            when,
            status=CaseStatus.RESOLVED if resolved else CaseStatus.CONTACTED,
            contact_after=hours(contact_hours),
            ended_after=days(ended_days) if resolved else None,
        )
        contact.append(contact_hours)
        if resolved:
            resolution.append(ended_days)
    result = kpis.closed_loop_kpis(
        db.session, UserFactory(role=Role.ADMIN), start=START, end=END, now=NOW
    )["overall"]
    assert result["first_contact_hours_median"] == pytest.approx(statistics.median(contact), 0.1)
    assert result["first_contact_hours_mean"] == pytest.approx(statistics.mean(contact), abs=0.1)
    assert result["resolution_days_median"] == pytest.approx(statistics.median(resolution), abs=0.1)
    assert result["resolution_days_mean"] == pytest.approx(statistics.mean(resolution), abs=0.1)
    assert result["resolved"] == len(resolution)


def test_a_manager_counts_only_their_accounts_and_a_viewer_only_assigned_ones(world):
    one = kpis.closed_loop_kpis(db.session, world["one"], start=START, end=END, now=NOW)
    assert one["overall"]["detractors"] == 2  # First's A and B, whoever owns the cases
    by_owner = kpis.closed_loop_kpis(
        db.session, world["one"], start=START, end=END, by="owner", now=NOW
    )
    assert {g["label"] for g in by_owner["groups"]} == {"Owner One", "Owner Two"}
    viewer = UserFactory(role=Role.VIEWER)
    nothing = kpis.closed_loop_kpis(db.session, viewer, start=START, end=END, now=NOW)
    assert nothing["overall"]["detractors"] == 0
    assert nothing["overall"]["resolved_pct"] is None
    assert nothing["overall"]["first_contact_hours_median"] is None
    AssignmentFactory(user=viewer, account_id=world["accounts"][2].id)
    assigned = kpis.closed_loop_kpis(db.session, viewer, start=START, end=END, now=NOW)
    assert assigned["overall"]["detractors"] == 1  # E; the held and low-score cases never
    executive = UserFactory(role=Role.EXECUTIVE)
    assert (
        kpis.closed_loop_kpis(db.session, executive, start=START, end=END, now=NOW)["overall"][
            "detractors"
        ]
        == 5
    )


def test_one_account_only(world):
    admin = UserFactory(role=Role.ADMIN)
    second = world["accounts"][1]
    result = kpis.closed_loop_kpis(
        db.session, admin, start=START, end=END, now=NOW, account_id=second.id
    )
    assert result["overall"]["detractors"] == 2
    assert result["overall"]["value"] == 210000.0


def test_the_range_is_half_open_and_checked(world):
    admin = UserFactory(role=Role.ADMIN)
    opened_c = world["C"].opened_at
    assert (
        kpis.closed_loop_kpis(db.session, admin, start=opened_c, end=opened_c + hours(1), now=NOW)[
            "overall"
        ]["detractors"]
        == 1
    )
    assert (
        kpis.closed_loop_kpis(db.session, admin, start=opened_c - hours(1), end=opened_c, now=NOW)[
            "overall"
        ]["detractors"]
        == 0
    )
    with pytest.raises(ValueError, match="after start"):
        kpis.closed_loop_kpis(db.session, admin, start=END, end=START, now=NOW)
    with pytest.raises(ValueError, match="by must be"):
        kpis.closed_loop_kpis(db.session, admin, start=START, end=END, by="tier", now=NOW)
    with pytest.raises(ValueError, match="period must be"):
        kpis.root_causes(db.session, admin, start=START, end=END, period="week")


def test_kpis_take_one_statement(world):
    admin = UserFactory(role=Role.ADMIN)
    statements = []

    def count(*args):
        statements.append(args[2])

    from sqlalchemy import event

    engine = db.session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        kpis.closed_loop_kpis(db.session, admin, start=START, end=END, by="period", now=NOW)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1
    assert "GROUP BY" in statements[0]


def test_root_causes_count_cases_and_the_value_of_distinct_accounts(world):
    admin = UserFactory(role=Role.ADMIN)
    whole = kpis.root_causes(db.session, admin, start=START, end=END, period=None)
    assert whole == [
        # A and B are both on First: 100,000 once; C on Second: 200,000.
        {
            "period": None,
            "tag": "pricing_value",
            "cases": 3,
            "open": 1,
            "accounts": 2,
            "value_at_stake": 300000.0,
        },
        # C (200,000) and D (10,000) on Second: the account's value once, the larger.
        {
            "period": None,
            "tag": "delivery",
            "cases": 2,
            "open": 1,
            "accounts": 1,
            "value_at_stake": 200000.0,
        },
        {
            "period": None,
            "tag": "support_responsiveness",
            "cases": 1,
            "open": 0,
            "accounts": 1,
            "value_at_stake": 100000.0,
        },
        # E only: the held case and the one before the range are left out.
        {
            "period": None,
            "tag": "billing",
            "cases": 1,
            "open": 1,
            "accounts": 1,
            "value_at_stake": 30000.0,
        },
    ]
    monthly = kpis.root_causes(db.session, admin, start=START, end=END, period="month")
    assert [(r["period"], r["tag"], r["cases"]) for r in monthly] == [
        ("2026-01", "pricing_value", 2),
        ("2026-01", "support_responsiveness", 1),
        ("2026-02", "delivery", 2),  # both 200,000 (Second): more cases first
        ("2026-02", "pricing_value", 1),
        ("2026-03", "billing", 1),
    ]
    quarterly = kpis.root_causes(db.session, admin, start=START, end=END, period="quarter")
    assert {r["period"] for r in quarterly} == {"2026Q1"}


def test_root_causes_follow_the_readers_accounts(world):
    mine = kpis.root_causes(db.session, world["two"], start=START, end=END, period=None)
    assert {r["tag"] for r in mine} == {"pricing_value", "delivery"}  # Second's C and D
    assert kpis.root_causes(db.session, UserFactory(role=Role.VIEWER), start=START, end=END) == []


def test_root_causes_include_cases_of_every_reason(world):
    account = world["accounts"][2]
    make_case(
        account,
        dt.datetime(2026, 3, 2, tzinfo=dt.UTC),
        reason=CaseReason.LOW_SCORE,
        tags=("billing",),
    )
    whole = kpis.root_causes(
        db.session, UserFactory(role=Role.ADMIN), start=START, end=END, period=None
    )
    billing = next(r for r in whole if r["tag"] == "billing")
    assert (billing["cases"], billing["accounts"]) == (2, 1)


def test_quarter_helpers():
    assert kpis.quarter_start(NOW) == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert kpis.quarters_back(NOW, 3) == dt.datetime(2025, 4, 1, tzinfo=dt.UTC)
    assert kpis.quarters_back(dt.datetime(2026, 12, 31, tzinfo=dt.UTC), 4) == dt.datetime(
        2025, 10, 1, tzinfo=dt.UTC
    )


def test_closed_loop_summary_gives_plain_figures_for_reports(world):
    admin = UserFactory(role=Role.ADMIN)
    summary = kpis.closed_loop_summary(db.session, admin, now=NOW)
    assert summary["has_cases"] is True
    assert summary["start"] == dt.datetime(2025, 4, 1, tzinfo=dt.UTC)
    assert summary["overall"]["detractors"] == 6  # the five, and the one of 2025-12-31
    assert [t["key"] for t in summary["trend"]] == ["2025Q4", "2026Q1"]
    assert summary["root_causes"][0]["tag"] == "pricing_value"
    assert "period" not in summary["root_causes"][0]
    assert {o["label"] for o in summary["by_owner"]} == {"Owner One", "Owner Two", "Unassigned"}
    one_account = kpis.closed_loop_summary(db.session, admin, world["accounts"][1].id, now=NOW)
    assert one_account["overall"]["detractors"] == 2
    empty = kpis.closed_loop_summary(db.session, UserFactory(role=Role.VIEWER), now=NOW)
    assert empty["has_cases"] is False
    assert empty["trend"] == []
