"""Closed-loop KPIs and root causes: how well detractors are followed up, computed by the database.

``closed_loop_kpis`` is one aggregate statement over the detractor cases (reason ``detractor``)
opened in ``[start, end)`` on the accounts the user may read (their ids are looked up first,
unless the user reads every account), held cases (an experiment's control arm) left out. Per
case the statement works out its durations and SLA breaches; it then counts, sums and takes
medians per group, for the whole range (the ``overall`` row) and, with ``by``, per owner,
account or period in the same statement. On PostgreSQL the total and the groups are
``GROUPING SETS`` and the medians ``percentile_cont(0.5)``; elsewhere (SQLite) each case is
read twice (``UNION ALL``: once under its group, once under the total) and the medians come from
window functions (``ROW_NUMBER`` and ``COUNT`` over the group: the mean of the middle one or two
values, which is what ``percentile_cont(0.5)`` computes). The tests hold both to the same hand
computation.

The definitions (README, "Closed-loop KPIs"):

- resolved %: cases resolved (status ``resolved``; "closed unresolved" is not) / detractor cases;
- resolved % by value: the ``value_at_stake`` of the resolved cases / that of all of them;
- hours to first contact: ``first_contact_at - opened_at`` of the cases contacted (median, mean);
- days to resolution: ``ended_at - opened_at`` of the resolved cases (median, mean);
- first-contact SLA breach: contacted after ``first_contact_due``, or not contacted and
  ``first_contact_due`` has passed at ``now``;
- resolution SLA breach: resolved after ``resolution_due``, or not resolved (open, or closed
  unresolved) and ``resolution_due`` has passed at ``now``;
- told %: cases whose respondent was told what was done ("we heard you") / detractor cases.

``root_causes`` is the macro loop: per period and root-cause tag, how many cases (of any reason)
carry it, on how many accounts, and the value at risk: the value at stake of the distinct
accounts concerned (an account with three unhappy people counts once), by one two-level
``GROUP BY``.
"""

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Select,
    String,
    and_,
    case,
    false,
    func,
    literal,
    null,
    or_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import NullType

from relhealth.accounts.models import Account
from relhealth.auth.models import Role, User
from relhealth.auth.permissions import readable_accounts
from relhealth.followup.models import Case, CaseReason, CaseStatus, CaseTag

BREAKDOWNS = ("owner", "account", "period")
PERIODS = ("month", "quarter")
UNASSIGNED = "Unassigned"


# Portable SQL pieces -----------------------------------------------------------------------------


class hours_between(FunctionElement):
    """``later - earlier`` in hours, as a float (null if either is null)."""

    type = Float()
    name = "hours_between"
    inherit_cache = True


@compiles(hours_between)
def _hours_between_postgresql(element, compiler, **kw) -> str:
    later, earlier = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"(EXTRACT(EPOCH FROM ({later} - {earlier})) / 3600.0)"


@compiles(hours_between, "sqlite")
def _hours_between_sqlite(element, compiler, **kw) -> str:
    later, earlier = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"((julianday({later}) - julianday({earlier})) * 24.0)"


class month_of(FunctionElement):
    """The calendar month of a UTC time: its first moment on PostgreSQL (``date_trunc``, far
    cheaper per row than formatting), ``2026-03`` on SQLite; ``period_key`` makes both text."""

    type = NullType()
    name = "month_of"
    inherit_cache = True


class quarter_of(FunctionElement):
    """The calendar quarter of a UTC time, likewise (``2026Q1`` on SQLite)."""

    type = NullType()
    name = "quarter_of"
    inherit_cache = True


@compiles(month_of)
def _month_of_postgresql(element, compiler, **kw) -> str:
    (column,) = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"date_trunc('month', timezone('UTC', {column}))"


@compiles(quarter_of)
def _quarter_of_postgresql(element, compiler, **kw) -> str:
    (column,) = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"date_trunc('quarter', timezone('UTC', {column}))"


@compiles(month_of, "sqlite")
def _month_of_sqlite(element, compiler, **kw) -> str:
    (column,) = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"strftime('%Y-%m', {column})"


@compiles(quarter_of, "sqlite")
def _quarter_of_sqlite(element, compiler, **kw) -> str:
    (column,) = (compiler.process(clause, **kw) for clause in element.clauses)
    return (
        f"(strftime('%Y', {column}) || 'Q' || "
        f"((CAST(strftime('%m', {column}) AS INTEGER) + 2) / 3))"
    )


def period_key(value: str | dt.datetime | None, period: str) -> str | None:
    """A period as text: ``2026-03`` (month) or ``2026Q1`` (quarter, as ``metrics.period_key``)."""
    if value is None or isinstance(value, str):
        return value
    if period == "month":
        return f"{value.year}-{value.month:02d}"
    return f"{value.year}Q{(value.month - 1) // 3 + 1}"


def period_of(column, period: str) -> FunctionElement:
    """The month or quarter of ``column`` (a distinct SQL construct each, so cached apart)."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {PERIODS}")
    return month_of(column) if period == "month" else quarter_of(column)


def _median(value, rank, count) -> ColumnElement:
    """The median of ``value`` in a group: the mean of its middle one or two ranked values.

    ``rank`` numbers the group's non-null values from 1 in ascending order (nulls last) and
    ``count`` counts them; with n values the middle ones are ranks (n + 1) // 2 and (n + 2) // 2.
    """
    middle = or_(rank == (count + 1) // 2, rank == (count + 2) // 2)
    return func.avg(case((and_(value.is_not(None), middle), value), else_=None))


# Scope -------------------------------------------------------------------------------------------


def readable_account_ids(session: Session, user: User | None) -> list[int] | None:
    """The ids of the accounts ``user`` may read; None when that is every account (also for
    ``user`` None: a caller that checked access itself, as a PDF report of one account does).

    Looked up first and given to the aggregate as a list: a planner cannot estimate how many
    cases an ``IN (subquery with ORs)`` keeps, and scans every case for a manager of three
    accounts; with the ids it walks the account index.
    """
    if user is None or user.role in (Role.ADMIN, Role.EXECUTIVE):  # they read every account
        return None
    return list(session.scalars(select(Account.id).where(readable_accounts(user))))


def scope_ids(
    session: Session, user: User | None, within: Sequence[int] | None
) -> list[int] | None:
    """The accounts a figure covers: those ``user`` may read, narrowed to ``within`` if given
    (the accounts of a filtered portfolio report); None for every account."""
    readable = readable_account_ids(session, user)
    if within is None:
        return readable
    return sorted(set(within) if readable is None else set(within) & set(readable))


def visible_cases(
    readable: Sequence[int] | None,
    start: dt.datetime,
    end: dt.datetime,
    account_id: int | None = None,
) -> list[ColumnElement[bool]]:
    """WHERE clauses: cases opened in ``[start, end)`` on the ``readable`` accounts (None:
    all), not held; only ``account_id``'s if given."""
    clauses = [Case.held.is_(false()), Case.opened_at >= start, Case.opened_at < end]
    if readable is not None:
        clauses.append(Case.account_id.in_(readable))
    if account_id is not None:
        clauses.append(Case.account_id == account_id)
    return clauses


def _check_range(start: dt.datetime, end: dt.datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware (UTC)")
    if end <= start:
        raise ValueError("end must be after start")


# Closed-loop KPIs --------------------------------------------------------------------------------


def _per_case(by: str | None, period: str, now: dt.datetime) -> Select:
    """One row per case with its group key, durations and breaches (the inner level)."""
    resolved = Case.status == CaseStatus.RESOLVED
    ended = Case.ended_at.is_not(None)
    key = {
        None: null(),
        "owner": Case.owner_id,
        "account": Case.account_id,
        "period": period_of(Case.opened_at, period),
    }[by]
    contacted = Case.first_contact_at.is_not(None)
    first_contact_late = or_(
        and_(contacted, Case.first_contact_at > Case.first_contact_due),
        and_(~contacted, Case.first_contact_due < now),
    )
    resolution_late = or_(
        and_(resolved, Case.ended_at > Case.resolution_due),
        and_(~resolved, Case.resolution_due < now),
    )
    return select(
        key.label("key"),
        Case.value_at_stake.label("value"),
        case((resolved, 1), else_=0).label("resolved"),
        case((and_(ended, ~resolved), 1), else_=0).label("closed_unresolved"),
        case((contacted, 1), else_=0).label("contacted"),
        case((Case.told_respondent_at.is_not(None), 1), else_=0).label("told"),
        hours_between(Case.first_contact_at, Case.opened_at).label("contact_hours"),
        case((resolved, hours_between(Case.ended_at, Case.opened_at) / 24.0), else_=None).label(
            "resolution_days"
        ),
        case((first_contact_late, 1), else_=0).label("first_contact_breach"),
        case((resolution_late, 1), else_=0).label("resolution_breach"),
        case((or_(first_contact_late, resolution_late), 1), else_=0).label("any_breach"),
    )


def _aggregates(r, median) -> list[ColumnElement]:
    """The figures of a group, over the per-case columns ``r``; ``median(column)`` as given."""
    return [
        func.count().label("detractors"),
        func.sum(r.resolved).label("resolved"),
        func.sum(r.closed_unresolved).label("closed_unresolved"),
        func.sum(r.contacted).label("contacted"),
        func.sum(r.told).label("told"),
        func.sum(r.value).label("value"),
        func.sum(case((r.resolved == 1, r.value), else_=0)).label("resolved_value"),
        median(r.contact_hours).label("first_contact_hours_median"),
        func.avg(r.contact_hours).label("first_contact_hours_mean"),
        median(r.resolution_days).label("resolution_days_median"),
        func.avg(r.resolution_days).label("resolution_days_mean"),
        func.sum(r.first_contact_breach).label("first_contact_breaches"),
        func.sum(r.resolution_breach).label("resolution_breaches"),
        func.sum(r.any_breach).label("breached"),
    ]


def _postgresql_statement(per_case: Select, by: str | None) -> Select:
    """PostgreSQL: ``percentile_cont`` medians; the total and the groups by GROUPING SETS."""
    rows = per_case.subquery("kpi_cases")
    figures = _aggregates(rows.c, lambda column: func.percentile_cont(0.5).within_group(column))
    if by is None:
        return select(literal(1, Integer).label("total"), null().label("key"), *figures)
    total = func.grouping(rows.c.key)
    return (
        select(total.label("total"), rows.c.key, *figures)
        .group_by(func.grouping_sets(tuple_(rows.c.key), tuple_()))
        .order_by(total.desc(), rows.c.key)
    )


def _portable_statement(per_case: Select, by: str | None) -> Select:
    """Elsewhere (SQLite): each case once per group and once for the total (UNION ALL), and
    medians from window functions (``_median``)."""
    if by is None:
        rows = per_case.add_columns(literal(1, Integer).label("total")).cte("kpi_cases")
    else:
        base = per_case.cte("kpi_base")
        columns = [c for c in base.c if c.key != "key"]
        rows = union_all(
            select(base.c.key, *columns, literal(0, Integer).label("total")),
            select(null().label("key"), *columns, literal(1, Integer).label("total")),
        ).cte("kpi_cases")
    group = (rows.c.total, rows.c.key)

    def ranked(column):
        window = {"partition_by": group, "order_by": column.asc().nulls_last()}
        return (
            func.row_number().over(**window).label(f"{column.key}_rank"),
            func.count(column).over(partition_by=group).label(f"{column.key}_n"),
        )

    ranks = select(rows, *ranked(rows.c.contact_hours), *ranked(rows.c.resolution_days)).subquery(
        "kpi_ranked"
    )
    r = ranks.c

    def median(column):
        return _median(column, r[f"{column.key}_rank"], r[f"{column.key}_n"])

    return (
        select(r.total, r.key, *_aggregates(r, median))
        .group_by(r.total, r.key)
        .order_by(r.total.desc(), r.key)
    )


def kpi_statement(
    readable: Sequence[int] | None,
    *,
    start: dt.datetime,
    end: dt.datetime,
    by: str | None,
    period: str,
    now: dt.datetime,
    account_id: int | None = None,
    dialect: str = "postgresql",
) -> Select:
    """The one statement behind ``closed_loop_kpis``: a row for the total (``total`` = 1) and,
    with ``by``, one per group (``total`` = 0). Both forms give the same figures (the tests run
    on both databases against the same hand computation)."""
    per_case = _per_case(by, period, now).where(
        Case.reason == CaseReason.DETRACTOR, *visible_cases(readable, start, end, account_id)
    )
    if dialect == "postgresql":
        return _postgresql_statement(per_case, by)
    return _portable_statement(per_case, by)


def _share(part: float | None, whole: float | None) -> float | None:
    return round(100.0 * float(part or 0) / float(whole), 1) if whole else None


def _rounded(value: Any, digits: int = 1) -> float | None:
    return None if value is None else round(float(value), digits)


def _money(value: Any) -> float:
    return float(Decimal(str(value or 0)).quantize(Decimal("0.01")))


def kpi_figures(row: Mapping[str, Any] | None) -> dict[str, Any]:
    """One group's KPIs as plain values (shares in %, durations rounded); zeros when empty."""
    row = row or {}
    detractors = int(row.get("detractors") or 0)
    resolved = int(row.get("resolved") or 0)
    closed_unresolved = int(row.get("closed_unresolved") or 0)
    value = _money(row.get("value"))
    resolved_value = _money(row.get("resolved_value"))
    return {
        "detractors": detractors,
        "resolved": resolved,
        "closed_unresolved": closed_unresolved,
        "open": detractors - resolved - closed_unresolved,
        "resolved_pct": _share(resolved, detractors),
        "value": value,
        "resolved_value": resolved_value,
        "resolved_value_pct": _share(resolved_value, value),
        "contacted": int(row.get("contacted") or 0),
        "first_contact_hours_median": _rounded(row.get("first_contact_hours_median")),
        "first_contact_hours_mean": _rounded(row.get("first_contact_hours_mean")),
        "resolution_days_median": _rounded(row.get("resolution_days_median")),
        "resolution_days_mean": _rounded(row.get("resolution_days_mean")),
        "first_contact_breaches": int(row.get("first_contact_breaches") or 0),
        "resolution_breaches": int(row.get("resolution_breaches") or 0),
        "breached": int(row.get("breached") or 0),
        "breached_pct": _share(row.get("breached"), detractors),
        "told": int(row.get("told") or 0),
        "told_pct": _share(row.get("told"), detractors),
    }


def period_label(key: str) -> str:
    """``2026-03`` -> ``Mar 2026``; ``2026Q1`` -> ``2026 Q1``."""
    if "Q" in key:
        return key.replace("Q", " Q")
    return dt.datetime.strptime(key, "%Y-%m").strftime("%b %Y")


def _labels(session: Session, by: str | None, keys: list) -> dict:
    """Display names of the group keys: users' and accounts' names; a period is its own."""
    ids = [key for key in keys if key is not None]
    if by == "owner" and ids:
        return dict(session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())
    if by == "account" and ids:
        return dict(
            session.execute(select(Account.id, Account.name).where(Account.id.in_(ids))).all()
        )
    return {}


def closed_loop_kpis(
    session: Session,
    user: User,
    *,
    start: dt.datetime,
    end: dt.datetime,
    by: str | None = None,
    period: str = "month",
    now: dt.datetime,
    account_id: int | None = None,
    within: Sequence[int] | None = None,
) -> dict[str, Any]:
    """The closed-loop KPIs of the detractor cases opened in ``[start, end)`` that ``user`` may
    read (held cases left out), overall and, with ``by`` ("owner", "account" or "period"), per
    group; ``period`` ("month" or "quarter") is the period's length; SLA breaches as of ``now``.

    Returns ``{"start", "end", "by", "period", "overall": {...}, "groups": [{"key", "label",
    ...}]}``, the figures as in ``kpi_figures``; groups by key (owners and accounts by id,
    periods in time order; unassigned cases under the key None).
    """
    _check_range(start, end)
    if by not in (None, *BREAKDOWNS):
        raise ValueError(f"by must be one of {BREAKDOWNS}")
    if period not in PERIODS:
        raise ValueError(f"period must be one of {PERIODS}")
    stmt = kpi_statement(
        scope_ids(session, user, within),
        start=start,
        end=end,
        by=by,
        period=period,
        now=now,
        account_id=account_id,
        dialect=session.get_bind().dialect.name,
    )
    rows = [row._asdict() for row in session.execute(stmt)]
    if by == "period":
        for row in rows:
            row["key"] = period_key(row["key"], period)
    overall = next((row for row in rows if row["total"] == 1), None)
    groups = [row for row in rows if row["total"] == 0]
    labels = _labels(session, by, [row["key"] for row in groups])

    def label(key):
        if by == "period":
            return period_label(key)
        return labels.get(key, UNASSIGNED if key is None else f"#{key}")

    return {
        "start": start,
        "end": end,
        "by": by,
        "period": period,
        "overall": kpi_figures(overall),
        "groups": [
            {"key": row["key"], "label": label(row["key"]), **kpi_figures(row)} for row in groups
        ],
    }


# Root causes ------------------------------------------------------------------------------------


def root_cause_statement(
    readable: Sequence[int] | None,
    *,
    start: dt.datetime,
    end: dt.datetime,
    period: str | None,
    account_id: int | None = None,
) -> Select:
    """Per (period, tag): cases, open cases, accounts, and the accounts' value at stake.

    The inner level is per (period, tag, account), so an account's value is counted once.
    """
    # PostgreSQL refuses a constant in GROUP BY: without periods, group by tag and account only.
    keys = [period_of(Case.opened_at, period)] if period else []
    ended = Case.ended_at.is_not(None)
    per_account = (
        select(
            (keys[0] if keys else literal(None, String)).label("period"),
            CaseTag.tag,
            Case.account_id,
            func.count().label("cases"),
            func.sum(case((ended, 0), else_=1)).label("open"),
            func.max(Case.value_at_stake).label("value"),
        )
        .join(CaseTag, CaseTag.case_id == Case.id)
        .where(*visible_cases(readable, start, end, account_id))
        .group_by(*keys, CaseTag.tag, Case.account_id)
        .subquery("per_account")
    )
    p = per_account.c
    value = func.sum(p.value)
    return (
        select(
            p.period,
            p.tag,
            func.sum(p.cases).label("cases"),
            func.sum(p.open).label("open"),
            func.count().label("accounts"),
            value.label("value_at_stake"),
        )
        .group_by(p.period, p.tag)
        .order_by(p.period, value.desc(), func.sum(p.cases).desc(), p.tag)
    )


def root_causes(
    session: Session,
    user: User,
    *,
    start: dt.datetime,
    end: dt.datetime,
    period: str | None = "month",
    account_id: int | None = None,
    within: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    """Root causes of the cases (any reason; held ones left out) opened in ``[start, end)`` on
    the accounts ``user`` may read: per period ("month", "quarter"; None: the whole range as
    one, with period None) and tag, ``cases``, ``open`` (not ended), ``accounts`` and
    ``value_at_stake`` (the value of the distinct accounts concerned), ranked within each period
    by value at risk, then by cases."""
    _check_range(start, end)
    if period is not None and period not in PERIODS:
        raise ValueError(f"period must be one of {PERIODS}")
    stmt = root_cause_statement(
        scope_ids(session, user, within),
        start=start,
        end=end,
        period=period,
        account_id=account_id,
    )
    return [
        {
            "period": period_key(row.period, period) if period else None,
            "tag": row.tag,
            "cases": int(row.cases),
            "open": int(row.open or 0),
            "accounts": int(row.accounts),
            "value_at_stake": _money(row.value_at_stake),
        }
        for row in session.execute(stmt)
    ]


# For the PDF reports ------------------------------------------------------------------------------


def quarter_start(when: dt.datetime) -> dt.datetime:
    """Midnight UTC on the first day of ``when``'s calendar quarter."""
    when = when.astimezone(dt.UTC)
    return dt.datetime(when.year, 3 * ((when.month - 1) // 3) + 1, 1, tzinfo=dt.UTC)


def quarters_back(when: dt.datetime, quarters: int) -> dt.datetime:
    """The start of the quarter ``quarters`` before ``when``'s (0: its own)."""
    start = quarter_start(when)
    index = start.year * 4 + (start.month - 1) // 3 - quarters
    return dt.datetime(index // 4, 3 * (index % 4) + 1, 1, tzinfo=dt.UTC)


def closed_loop_summary(
    session: Session,
    user: User | None,
    account_id: int | None = None,
    *,
    now: dt.datetime,
    quarters: int = 4,
    top_causes: int = 5,
    within: Sequence[int] | None = None,
) -> dict[str, Any]:
    """What a PDF report says about closing the loop, as plain dicts: the last ``quarters``
    calendar quarters up to ``now`` (the current one included) of one account, or of every
    account ``user`` may read.

    ``{"start", "end", "overall", "trend" (per quarter), "by_owner", "root_causes" (the top
    ``top_causes`` by value at risk over the whole range), "has_cases"}``; the figures as in
    ``closed_loop_kpis``. Three statements: the KPIs by owner (with the total), by quarter, and
    the root causes.
    """
    start = quarters_back(now, quarters - 1)
    end = now
    scope = {"start": start, "end": end, "now": now, "account_id": account_id, "within": within}
    by_owner = closed_loop_kpis(session, user, by="owner", **scope)
    trend = closed_loop_kpis(session, user, by="period", period="quarter", **scope)
    causes = root_causes(
        session, user, start=start, end=end, period=None, account_id=account_id, within=within
    )
    return {
        "start": start,
        "end": end,
        "account_id": account_id,
        "has_cases": by_owner["overall"]["detractors"] > 0,
        "overall": by_owner["overall"],
        "by_owner": by_owner["groups"],
        "trend": trend["groups"],
        "root_causes": [{k: v for k, v in c.items() if k != "period"} for c in causes][:top_causes],
    }
