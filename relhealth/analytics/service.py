"""Analytics services: load answers into tidy frames, then compute what a page or the API shows.

The loaders read one scope (an account, a set of accounts, a program) in ONE query each and
return the frames of ``relhealth.analytics.frames``; everything after that is a pure function
of those frames (``metrics``, ``trends``, ``panel``, ``suppression``). For the whole portfolio
the answers are not fetched at all: ``load_answer_stats`` lets the database add them up into
the same sufficient statistics ``metrics.group_stats`` computes, in one ``GROUP BY``.

Services take their session and never commit. Permissions: every loader takes the ``user``
whose readable accounts bound the scope (``None`` only for trusted callers such as tasks).
"""

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from flask import current_app
from sqlalchemy import (
    Boolean,
    ColumnElement,
    Float,
    Integer,
    Select,
    String,
    case,
    cast,
    extract,
    func,
    literal,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from relhealth.accounts.models import Account, Person, Side
from relhealth.accounts.seniority import ladder
from relhealth.analytics import frames, metrics, panel, trends
from relhealth.analytics.metrics import AnalyticsSettings
from relhealth.auth.models import User
from relhealth.auth.permissions import readable_accounts
from relhealth.cohorts.models import Confidentiality, Invitation, InvitationStatus, Program, Wave
from relhealth.core import memory
from relhealth.core.errors import InvalidInput
from relhealth.surveys.models import Answer, QuestionType, Response

# Answers that enter an answers frame: numbers (nps, rating) and free text. Choices stay out.
FRAME_TYPES = (QuestionType.NPS, QuestionType.RATING, QuestionType.TEXT)
NUMERIC_TYPES = (QuestionType.NPS, QuestionType.RATING)

STATS_COLUMNS: dict[str, str] = {
    "n": "int64",
    "respondents": "int64",
    "total": "float64",
    "total_sq": "float64",
    "nps_n": "int64",
    "promoters": "int64",
    "detractors": "int64",
    "k": "int64",
}


def top_level() -> str:
    """The top of the seniority ladder (executives by default): ``is_top`` in the frames."""
    return ladder()[0]


def _k() -> ColumnElement[int]:
    # A confidential program's minimum group size, at least 2: k > 1 is what marks answers
    # confidential everywhere downstream (no names, no per-person scores), so a confidential
    # program set to k = 1 must not read as identified. Identified programs and history: 1.
    confidential_k = case((Program.min_group_size < 2, 2), else_=Program.min_group_size)
    return func.coalesce(
        case(
            (Program.confidentiality == Confidentiality.CONFIDENTIAL, confidential_k),
            else_=1,
        ),
        1,
    )


def _text(column) -> ColumnElement[str]:
    """An enum column read as its plain value (no enum objects to convert for pandas)."""
    return type_coerce(column, String)


def _wave_at() -> ColumnElement[dt.datetime]:
    return func.coalesce(Wave.opens_at, Response.submitted_at).label("wave_at")


def _readable_ids(user: User) -> Select:
    return select(Account.id).where(readable_accounts(user))


def _answers_from(stmt: Select, start=Response) -> Select:
    """``stmt`` over responses and their answers, waves and programs (``start=None``: the
    responses are joined already)."""
    if start is not None:
        stmt = stmt.select_from(start)
    return (
        stmt.join(Answer, Answer.response_id == Response.id)
        .outerjoin(Wave, Wave.id == Response.wave_id)
        .outerjoin(Program, Program.id == Wave.program_id)
    )


def _scoped(
    stmt: Select,
    *,
    user: User | None,
    account_ids: Iterable[int] | Select | None,
    program_ids: Iterable[int] | None,
    since: dt.datetime | None,
    account_column=Response.account_id,
    when=None,
) -> Select:
    if user is not None:
        stmt = stmt.where(account_column.in_(_readable_ids(user)))
    if account_ids is not None:
        ids = account_ids if isinstance(account_ids, Select) else list(account_ids)
        stmt = stmt.where(account_column.in_(ids))
    if program_ids is not None:
        stmt = stmt.where(Wave.program_id.in_(list(program_ids)))
    if since is not None:
        stmt = stmt.where((when if when is not None else _wave_at()) >= since)
    return stmt


def _typed(rows: Sequence[Sequence[Any]], columns: Mapping[str, str]) -> pd.DataFrame:
    """A frame of ``columns`` from query rows (tuples), with the contract's dtypes.

    Converted column by column (numpy does the work), never row by row: the queries hand
    back plain values (``_plain``), and times are parsed once per distinct value.
    """
    values = list(zip(*rows, strict=True)) if rows else [()] * len(columns)
    return pd.DataFrame(
        {
            column: _converted(raw, dtype)
            for (column, dtype), raw in zip(columns.items(), values, strict=True)
        },
        columns=list(columns),
    )


def _converted(raw: Sequence[Any], dtype: str) -> Any:
    if dtype.startswith("datetime64"):
        # Few distinct times (one per wave): parse those, then index. psycopg gives aware
        # datetimes, SQLite ISO strings; both are UTC.
        codes, uniques = pd.factorize(np.asarray(raw, dtype=object))
        if (codes < 0).any():
            uniques, codes = np.append(np.asarray(uniques, dtype=object), None), codes.copy()
            codes[codes < 0] = len(uniques) - 1
        text = len(uniques) > 0 and isinstance(uniques[0], str)
        times = pd.DatetimeIndex(
            pd.to_datetime(
                np.asarray(uniques, dtype=object), utc=True, format="ISO8601" if text else None
            )
        )
        return times.astype(dtype)[codes]
    if dtype in ("string", "Int64"):
        return pd.array(raw, dtype=dtype)
    if dtype == "int64":
        try:
            return np.asarray(raw, dtype="int64")
        except TypeError:  # e.g. Decimal sums
            return np.asarray(raw, dtype="float64").astype("int64")
    return np.asarray(raw, dtype=dtype)


def _fetch(session: Session, stmt: Select) -> list[tuple]:
    """Every row of ``stmt`` (plain values, see ``_plain``), through the session's connection.

    The cyclic garbage collector is paused meanwhile: the rows hold no reference cycles, but
    allocating tens of thousands of them set off full collections over the whole process's
    heap, which cost more than fetching itself (bench/RESULTS.md, "Analytics").
    """
    with memory.paused_gc():
        return session.connection().execute(stmt).all()


def _plain(column: ColumnElement, name: str | None = None) -> ColumnElement:
    """A selected column fetched as the driver returns it: no per-row result processing
    (``UTCDateTime``, enum or boolean types); ``_typed`` converts whole columns instead."""
    return type_coerce(column, NullType()).label(name or column.key)


def load_answers(
    session: Session,
    *,
    user: User | None = None,
    account_ids: Iterable[int] | None = None,
    program_ids: Iterable[int] | None = None,
    since: dt.datetime | None = None,
) -> pd.DataFrame:
    """The answers frame (``frames.ANSWER_COLUMNS``) of a scope, in one query.

    Responses joined to their answers (numbers and text), their wave and its program (both
    optional: imported history has neither). ``wave_at`` is when the wave opened, or when the
    response was submitted for history without a wave; ``since`` bounds it from below.
    """
    stmt = _answers_from(
        select(
            Response.id,
            Response.person_id,
            Response.account_id,
            Wave.program_id,
            Response.wave_id,
            _plain(_wave_at(), "wave_at"),
            _text(Response.side),
            Response.seniority,
            _plain(Response.seniority == top_level(), "is_top"),
            Answer.question_key,
            _text(Answer.question_type),
            Answer.dimension,
            Answer.value,
            Answer.scaled,
            Answer.text,
            Answer.sentiment,
            _k(),
        )
    ).where(Answer.question_type.in_(FRAME_TYPES))
    stmt = _scoped(
        stmt, user=user, account_ids=account_ids, program_ids=program_ids, since=since
    ).order_by(Response.id, Answer.id)
    return _typed(_fetch(session, stmt), frames.ANSWER_COLUMNS)


def load_invitations(
    session: Session,
    *,
    user: User | None = None,
    account_ids: Iterable[int] | None = None,
    program_ids: Iterable[int] | None = None,
    since: dt.datetime | None = None,
) -> pd.DataFrame:
    """The invitations frame (``frames.INVITATION_COLUMNS``) of a scope, in one query."""
    stmt = (
        select(
            Invitation.id,
            Invitation.person_id,
            Invitation.account_id,
            Wave.program_id,
            Invitation.wave_id,
            _plain(Wave.opens_at, "wave_at"),
            _text(Invitation.side),
            Invitation.seniority,
            _plain(Invitation.seniority == top_level(), "is_top"),
            _plain(Invitation.status != InvitationStatus.SKIPPED, "invited"),
            _plain(Invitation.status == InvitationStatus.RESPONDED, "responded"),
            _k(),
        )
        .select_from(Invitation)
        .join(Wave, Wave.id == Invitation.wave_id)
        .join(Program, Program.id == Wave.program_id)
    )
    stmt = _scoped(
        stmt,
        user=user,
        account_ids=account_ids,
        program_ids=program_ids,
        since=since,
        account_column=Invitation.account_id,
        when=Wave.opens_at,
    ).order_by(Invitation.id)
    return _typed(_fetch(session, stmt), frames.INVITATION_COLUMNS)


def _stat_keys() -> dict[str, ColumnElement]:
    return {
        "account_id": Response.account_id,
        "program_id": Wave.program_id,
        "wave_id": Response.wave_id,
        "wave_at": _wave_at(),
        "side": _text(Response.side),
        "seniority": Response.seniority,
        "is_top": type_coerce(Response.seniority == top_level(), Boolean),
        "question_key": Answer.question_key,
        "question_type": _text(Answer.question_type),
        "dimension": Answer.dimension,
    }


def _scope_ids(user: User | None, account_ids: Iterable[int] | Select | None) -> Select:
    """The ids (column ``id``) of the accounts in scope: ``account_ids`` that ``user`` may read."""
    if isinstance(account_ids, Select):
        given = next(iter(account_ids.subquery("given_accounts").c))
        ids = select(given.label("id"))
        if user is not None:
            ids = ids.where(given.in_(_readable_ids(user)))
        return ids
    ids = select(Account.id)
    if user is not None:
        ids = ids.where(readable_accounts(user))
    if account_ids is not None:
        ids = ids.where(Account.id.in_(list(account_ids)))
    return ids


def _latest_waves(user: User | None, account_ids, side: Side | str | None) -> Select:
    """(account_id, wave_id): each account's latest wave, the wave of its latest response (of
    ``side``, when given) that belongs to a wave.

    One backward probe per account of the ``(account_id, submitted_at)`` index, instead of
    reading every response to rank the waves; the same as the latest-opened wave unless waves
    of different programs overlap in time.
    """
    scope = _scope_ids(user, account_ids).subquery("scope")
    latest = select(Response.wave_id).where(
        Response.account_id == scope.c.id, Response.wave_id.is_not(None)
    )
    if side is not None:
        latest = latest.where(Response.side == Side(side))
    latest = (
        latest.order_by(Response.submitted_at.desc(), Response.id.desc()).limit(1).scalar_subquery()
    )
    # Accounts without such a response get a NULL wave, which joins nothing.
    return select(scope.c.id.label("account_id"), latest.label("wave_id"))


def load_answer_stats(
    session: Session,
    by: Sequence[str],
    *,
    user: User | None = None,
    account_ids: Iterable[int] | Select | None = None,
    program_ids: Iterable[int] | None = None,
    since: dt.datetime | None = None,
    latest_wave: bool = False,
    side: Side | str | None = None,
) -> pd.DataFrame:
    """``metrics.group_stats(load_answers(...), by)``, added up by the database in one query.

    For scopes too large to fetch (the whole portfolio): only one row per group crosses the
    wire. Columns: ``by`` then ``STATS_COLUMNS``, in the same dtypes as ``group_stats``.
    ``latest_wave``: only the answers of each account's latest wave (``_latest_waves``;
    imported history without a wave left out), which is all the portfolio summary needs.
    ``side``: only the answers of their people (external) or ours (internal).
    """
    keys = _stat_keys()
    unknown = [name for name in by if name not in keys]
    if unknown:
        raise InvalidInput.on("by", f"Cannot group by {', '.join(unknown)}.", "query")
    group = [keys[name].label(name) for name in by]
    is_nps = Answer.question_type == QuestionType.NPS
    one, zero = literal(1), literal(0)
    stmt = select(
        *group,
        func.count(Answer.scaled).label("n"),
        func.count(Response.person_id.distinct()).label("respondents"),
        type_coerce(func.sum(Answer.scaled), Float).label("total"),
        type_coerce(func.sum(Answer.scaled * Answer.scaled), Float).label("total_sq"),
        func.sum(case((is_nps, one), else_=zero)).label("nps_n"),
        func.sum(case((is_nps & (Answer.value >= 9), one), else_=zero)).label("promoters"),
        func.sum(case((is_nps & (Answer.value < 7), one), else_=zero)).label("detractors"),
        func.max(_k()).label("k"),
    )
    if latest_wave:
        # The (account, wave) pairs, joined directly. MATERIALIZED: PostgreSQL would otherwise
        # inline them and look each account's responses up through the wave index.
        latest = (
            _latest_waves(user, account_ids, side)
            .cte("latest_waves")
            .prefix_with("MATERIALIZED", dialect="postgresql")
        )
        stmt = stmt.select_from(latest).join(
            Response,
            (Response.account_id == latest.c.account_id) & (Response.wave_id == latest.c.wave_id),
        )
        stmt = _answers_from(stmt, start=None)
        stmt = _scoped(stmt, user=None, account_ids=None, program_ids=program_ids, since=since)
    else:
        stmt = _answers_from(stmt)
        stmt = _scoped(
            stmt, user=user, account_ids=account_ids, program_ids=program_ids, since=since
        )
    stmt = stmt.where(Answer.question_type.in_(NUMERIC_TYPES), Answer.scaled.is_not(None))
    if side is not None:
        stmt = stmt.where(Response.side == Side(side))
    if group:
        stmt = stmt.group_by(*[keys[name] for name in by]).order_by(*[keys[name] for name in by])
    else:
        stmt = stmt.having(func.count(Answer.scaled) > 0)
    columns = {name: frames.ANSWER_COLUMNS[name] for name in by} | STATS_COLUMNS
    return _typed(_fetch(session, stmt), columns)


# What the pages and the API show ------------------------------------------------------------


def analytics_settings() -> AnalyticsSettings:
    """The metrics' thresholds from the app's configuration (``RELHEALTH_MIN_RESPONDENTS`` …)."""
    return metrics.analytics_settings(current_app.config)


def account_trends(
    session: Session,
    account: Account,
    by: str | None,
    settings: AnalyticsSettings,
    *,
    program_id: int | None = None,
) -> pd.DataFrame:
    """An account's scores per wave (one series, or one per side/seniority/dimension).

    ``trends.trend`` over the account's answers: the columns it documents, suppressed and
    insufficient rows included with their status (an account without answers: no rows).
    """
    answers = load_answers(
        session,
        account_ids=[account.id],
        program_ids=[program_id] if program_id is not None else None,
    )
    return trends.trend(answers, by, settings)


def _pick_period(answers: pd.DataFrame, wave_id: int | None) -> tuple[pd.DataFrame, dict]:
    """The answers of one period (``metrics.period_key``): the period of ``wave_id``, or the latest
    one with answers of the account; and what identifies it."""
    nothing = {"period": None, "wave": None, "wave_id": None, "wave_at": None, "wave_ids": []}
    if answers.empty:
        return answers, nothing
    periods = metrics.period_key(answers["wave_at"])
    in_wave = answers["wave_id"].eq(wave_id).fillna(False).to_numpy(dtype=bool)
    if wave_id is not None and not in_wave.any():
        raise InvalidInput.on("wave_id", "This account has no answers in that wave.", "query")
    anchor = in_wave if wave_id is not None else (answers["wave_at"] == answers["wave_at"].max())
    period = periods[np.asarray(anchor, dtype=bool)].iloc[0]
    chosen = answers[periods.eq(period).to_numpy(dtype=bool)]
    waves = chosen[chosen["wave_id"].notna().to_numpy(dtype=bool)]
    if wave_id is None and not waves.empty:  # the period's latest wave (history: none)
        wave_id = int(waves.sort_values(["wave_at", "wave_id"])["wave_id"].iloc[-1])
    named = waves[waves["wave_id"].eq(wave_id).to_numpy(dtype=bool)] if wave_id else waves
    return chosen, {
        "period": period,
        "wave": period,
        "wave_id": wave_id,
        "wave_at": (named if not named.empty else chosen)["wave_at"].max(),
        "wave_ids": sorted(int(w) for w in waves["wave_id"].unique()),
    }


def account_gaps(
    session: Session,
    account: Account,
    settings: AnalyticsSettings,
    *,
    wave_id: int | None = None,
    answers: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """One period's internal-vs-external gap per dimension and top-vs-line gap per side.

    A period is a calendar quarter (``metrics.period_key``): every answer of the account in waves
    that opened in it (of any program), and imported history of that quarter. The latest
    period with answers of the account, or the period of ``wave_id`` (InvalidInput if the
    account has no answers in that wave). Returns ``period`` (``2026Q4``; also as ``wave``),
    ``wave_id`` and ``wave_at`` (the chosen wave, else the period's latest; None without
    answers), ``wave_ids`` (every wave in the period), ``gaps``
    (``metrics.internal_external_gap``) and ``top_vs_line`` (``metrics.top_vs_line_gap``).
    ``answers``: the account's answers (``load_answers``) when the caller has them already.
    """
    if answers is None:
        answers = load_answers(session, account_ids=[account.id])
    answers, period = _pick_period(answers, wave_id)
    return {
        **period,
        "gaps": metrics.internal_external_gap(answers, [], settings),
        "top_vs_line": metrics.top_vs_line_gap(answers, [], settings),
    }


def account_panel(
    session: Session,
    account: Account,
    settings: AnalyticsSettings,
    *,
    program_id: int | None = None,
    answers: pd.DataFrame | None = None,
    invitations: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """Panel change, NPS migration and drop-outs of an account's programs.

    ``change`` (``panel.panel_change``), ``migration`` (``panel.migration_matrix``) and
    ``drop_outs``: in identified programs one row per person (with ``name``, ``people`` = 1);
    in confidential programs one row per wave with only the number of ``people``, because
    naming who fell silent next to small-group figures would undo the confidentiality.
    ``answers`` and ``invitations``: the frames of that scope (all the account's programs, or
    ``program_id``'s) when the caller has loaded them already.
    """
    programs = [program_id] if program_id is not None else None
    if answers is None:
        answers = load_answers(session, account_ids=[account.id], program_ids=programs)
    if invitations is None:
        invitations = load_invitations(session, account_ids=[account.id], program_ids=programs)
    return {
        "change": panel.panel_change(answers, settings),
        "migration": panel.migration_matrix(answers, settings),
        "drop_outs": _drop_outs(session, panel.drop_outs(answers, invitations)),
    }


def _drop_outs(session: Session, found: pd.DataFrame) -> pd.DataFrame:
    columns = ["program_id", "wave_id", "wave_at", "previous_wave_id", "person_id", "name"]
    columns += ["side", "seniority", "people", "status"]
    if found.empty:
        return pd.DataFrame(columns=columns)
    program_ids = [int(p) for p in found["program_id"].dropna().unique()]
    confidential = set(
        session.scalars(
            select(Program.id).where(
                Program.id.in_(program_ids),
                Program.confidentiality == Confidentiality.CONFIDENTIAL,
            )
        )
    )
    secret = found["program_id"].isin(confidential).to_numpy(dtype=bool)
    named = found[~secret]
    names = dict(
        session.execute(
            select(Person.id, Person.first_name + " " + Person.last_name).where(
                Person.id.in_([int(p) for p in named["person_id"]])
            )
        ).all()
    )
    named = named.assign(name=named["person_id"].map(names).astype("string"), people=1, status="ok")
    counted = (
        found[secret]
        .groupby(["program_id", "wave_id", "wave_at", "previous_wave_id"], observed=True)
        .size()
        .rename("people")
        .reset_index()
        .assign(status="ok")
    )
    table = pd.concat([named, counted], ignore_index=True)
    if "person_id" in table:
        table["person_id"] = table["person_id"].astype("Int64")
    table = table.reindex(columns=columns)
    return table.sort_values(["program_id", "wave_at", "person_id"], kind="stable").reset_index(
        drop=True
    )


SUMMARY_COLUMNS = [
    "account_id",
    "name",
    "kind",
    "tier",
    "owner_id",
    "annual_value",
    "wave_id",
    "wave_at",
    "health",
    "respondents",
    "health_status",
    "nps",
    "nps_n",
    "detractor_share",
    "value_at_risk",
    "value_at_risk_status",
    "health_rank",
    "value_at_risk_rank",
]


def portfolio_summary(
    session: Session,
    user: User,
    filters: Mapping[str, Any],
    settings: AnalyticsSettings,
    *,
    sort: str = "health",
) -> pd.DataFrame:
    """Every active account ``user`` may read (``filters``: kind, tier, owner_id), with the
    health and value at risk of its latest wave, ranked; one row per account.

    ``health``: ``metrics.health_index`` of their people's (external) answers in the account's
    latest wave, with ``respondents``. ``value_at_risk`` = annual value x ``detractor_share``,
    the share of those respondents' NPS answers that are detractors (README, "Value at risk").
    Both follow the status of the figures they come from (insufficient or suppressed: null).
    The answers are added up by the database (``load_answer_stats``), never fetched.
    """
    from relhealth.accounts.service import account_query

    scope = account_query(user, {**filters, "active": True})
    accounts = pd.DataFrame(
        session.execute(
            scope.with_only_columns(
                Account.id,
                Account.name,
                _text(Account.kind),
                _text(Account.tier),
                Account.owner_id,
                Account.annual_value,
            )
        ).all(),
        columns=["account_id", "name", "kind", "tier", "owner_id", "annual_value"],
    ).astype({"account_id": "int64", "owner_id": "Int64", "annual_value": "float64"})
    theirs = load_answer_stats(
        session,
        ["account_id", "wave_id", "dimension"],
        account_ids=scope.with_only_columns(Account.id),
        latest_wave=True,
        side=Side.EXTERNAL,
    )
    waves = theirs[["account_id", "wave_id"]].drop_duplicates("account_id")
    opened = dict(
        session.execute(
            select(Wave.id, Wave.opens_at).where(Wave.id.in_(waves["wave_id"].unique().tolist()))
        ).all()
    )
    waves = waves.assign(
        wave_at=pd.to_datetime(waves["wave_id"].map(opened), utc=True).astype(
            frames.ANSWER_COLUMNS["wave_at"]
        )
    )
    by_dimension = theirs.drop(columns=["wave_id"])
    health = metrics.health_index(by_dimension, ["account_id"], settings)[
        ["account_id", "health", "respondents", "status"]
    ].rename(columns={"status": "health_status"})
    nps_rows = by_dimension[by_dimension["nps_n"].gt(0).to_numpy(dtype=bool)]
    nps = metrics.scores(
        metrics.aggregate(
            nps_rows,
            ["account_id"],
            n=("n", "sum"),
            respondents=("respondents", "max"),
            total=("total", "sum"),
            total_sq=("total_sq", "sum"),
            nps_n=("nps_n", "sum"),
            promoters=("promoters", "sum"),
            detractors=("detractors", "sum"),
            k=("k", "max"),
        ),
        settings,
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        share = nps["detractors"].to_numpy(dtype=float) / nps["nps_n"].to_numpy(dtype=float)
    nps = nps.assign(detractor_share=np.where(nps["status"].eq("ok"), share, np.nan))[
        ["account_id", "nps", "nps_n", "detractor_share", "status"]
    ].rename(columns={"status": "value_at_risk_status"})
    table = (
        accounts.merge(waves, on="account_id", how="left")
        .merge(health, on="account_id", how="left")
        .merge(nps, on="account_id", how="left")
    )
    table["value_at_risk"] = table["annual_value"] * table["detractor_share"]
    for column in ("health_status", "value_at_risk_status"):
        table[column] = table[column].fillna("no_answers")
    table["health_rank"] = table["health"].rank(method="min", ascending=True).astype("Int64")
    table["value_at_risk_rank"] = (
        table["value_at_risk"].rank(method="min", ascending=False).astype("Int64")
    )
    table = table.reindex(columns=SUMMARY_COLUMNS)
    key = sort.removeprefix("-")
    table = table.sort_values(
        [key, "name"], ascending=[not sort.startswith("-"), True], na_position="last"
    )
    return table.reset_index(drop=True)


def health_changes(
    session: Session, user: User, account_ids: list[int], settings: AnalyticsSettings
) -> pd.DataFrame:
    """Each account's health index change between its last two waves with a health score
    (their people's answers, as the summary's health), added up by the database."""
    keys = ["account_id", "wave_id", "wave_at"]
    stats = load_answer_stats(
        session, [*keys, "side", "dimension"], user=user, account_ids=account_ids
    )
    stats = stats[stats["side"].eq("external").fillna(False).to_numpy(dtype=bool)]
    if stats.empty:
        return pd.DataFrame({"account_id": pd.Series(dtype="int64"), "health_change": []})
    health = metrics.health_index(stats.drop(columns="side"), keys, settings)
    health = health[health["status"].eq("ok").fillna(False).to_numpy(dtype=bool)]
    health = health.sort_values(["account_id", "wave_at"], kind="stable")
    change = health.groupby("account_id")["health"].diff()
    latest = health.assign(health_change=change).groupby("account_id").tail(1)
    return latest[["account_id", "health_change"]].reset_index(drop=True)


TREND_KEYS = ("side", "seniority", "dimension")


def _quarter(session: Session, column) -> ColumnElement[int]:
    """The calendar quarter (UTC) of a time as a number, ``20264`` for 2026Q4."""
    if session.get_bind().dialect.name == "postgresql":
        column = func.timezone("UTC", column)
    year = cast(extract("year", column), Integer)
    return year * 10 + (cast(extract("month", column), Integer) + 2) // 3


def portfolio_trends(
    session: Session,
    user: User | None,
    by: str | None,
    filters: Mapping[str, Any],
    settings: AnalyticsSettings,
) -> pd.DataFrame:
    """The portfolio's scores per quarter (one series, or one per side/seniority/dimension):
    ``trends.trend_from_stats`` over every account ``user`` may read (``filters``: kind, tier,
    owner_id; ended accounts included, for their past), added up by the database.

    The time axis is the period (``metrics.period_key``): the calendar quarter in which a wave
    opened, so the waves of all programs that opened in one quarter are one point; imported
    history without a wave counts in its submission quarter. ``wave`` is that quarter, e.g.
    ``2026Q1``, ``wave_id`` null, ``wave_at`` the earliest opening in it.

    ONE query, two levels: per wave (history: per quarter), series and person, that person's
    sums and mean; then per wave and series, the sums, ``people`` and the sums of the person
    means and their squares. The waves of a quarter are added up here. ``respondents`` (and the
    n of the Welch test) is the number of people per wave, summed over the quarter's waves: a
    person who answered two waves of one quarter counts twice (README, "portfolio trend").
    """
    from relhealth.accounts.service import account_query

    if by is not None and by not in TREND_KEYS:
        raise InvalidInput.on("by", f"Cannot break down by {by}.", "query")
    keys = [by] if by else []
    stat_keys = _stat_keys()
    series = [stat_keys[name].label(name) for name in keys]
    scope = (
        account_query(user, filters).with_only_columns(Account.id)
        if user is not None
        else _scope_ids(None, None)
    )
    is_nps = Answer.question_type == QuestionType.NPS
    one, zero = literal(1), literal(0)
    history_quarter = case(
        (Response.wave_id.is_(None), _quarter(session, Response.submitted_at)), else_=None
    ).label("history_quarter")
    per_person = _answers_from(
        select(
            Response.wave_id.label("wave_id"),
            history_quarter,
            *series,
            Response.person_id.label("person_id"),
            func.count(Answer.scaled).label("n"),
            type_coerce(func.sum(Answer.scaled), Float).label("total"),
            type_coerce(func.sum(Answer.scaled * Answer.scaled), Float).label("total_sq"),
            func.sum(case((is_nps, one), else_=zero)).label("nps_n"),
            func.sum(case((is_nps & (Answer.value >= 9), one), else_=zero)).label("promoters"),
            func.sum(case((is_nps & (Answer.value < 7), one), else_=zero)).label("detractors"),
            func.max(_k()).label("k"),
            func.min(_wave_at()).label("wave_at"),
        )
    ).where(
        Response.account_id.in_(scope),
        Answer.question_type.in_(NUMERIC_TYPES),
        Answer.scaled.is_not(None),
    )
    if "dimension" in keys:
        per_person = per_person.where(Answer.dimension.is_not(None))
    per_person = per_person.group_by(
        Response.wave_id,
        history_quarter,
        *[stat_keys[name] for name in keys],
        Response.person_id,
    ).subquery("per_person")
    inner = per_person.c
    mean = inner.total / inner.n
    groups = [inner.wave_id, inner.history_quarter, *[inner[name] for name in keys]]
    stmt = select(
        *groups,
        _plain(func.min(inner.wave_at), "wave_at"),
        func.sum(inner.n).label("n"),
        func.count().label("people"),
        type_coerce(func.sum(inner.total), Float).label("total"),
        type_coerce(func.sum(inner.total_sq), Float).label("total_sq"),
        func.sum(inner.nps_n).label("nps_n"),
        func.sum(inner.promoters).label("promoters"),
        func.sum(inner.detractors).label("detractors"),
        func.max(inner.k).label("k"),
        type_coerce(func.sum(mean), Float).label("person_total"),
        type_coerce(func.sum(mean * mean), Float).label("person_total_sq"),
    ).group_by(*groups)
    columns = {"wave_id": "Int64", "history_quarter": "Int64"}
    columns |= {name: frames.ANSWER_COLUMNS[name] for name in keys}
    columns |= {"wave_at": frames.ANSWER_COLUMNS["wave_at"], "n": "int64", "people": "int64"}
    columns |= {name: STATS_COLUMNS[name] for name in ("total", "total_sq", "nps_n")}
    columns |= {name: STATS_COLUMNS[name] for name in ("promoters", "detractors", "k")}
    columns |= {"person_total": "float64", "person_total_sq": "float64"}
    rows = _typed(_fetch(session, stmt), columns)

    rows["wave"] = metrics.period_key(rows["wave_at"])
    sums = ["n", "people", "total", "total_sq", "nps_n", "promoters", "detractors"]
    sums += ["person_total", "person_total_sq"]
    stats = metrics.aggregate(
        rows,
        [*keys, "wave"],
        **{name: (name, "sum") for name in sums},
        k=("k", "max"),
        wave_at=("wave_at", "min"),
    )
    stats["respondents"] = stats["people"]
    opened = stats.groupby("wave", observed=True)["wave_at"].transform("min")
    stats = stats.assign(wave_at=opened, wave_id=pd.array([pd.NA] * len(stats), dtype="Int64"))
    counts = ("n", "respondents", "people", "k", "nps_n", "promoters", "detractors")
    stats = stats.astype(dict.fromkeys(counts, "int64"))
    return trends.trend_from_stats(stats, keys, settings)
