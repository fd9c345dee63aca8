"""The analytics loaders and page services against a real database (SQLite or PostgreSQL).

``answered`` and ``generated_portfolio`` build responses the way the survey service stores
them (a wave, side and seniority frozen on the response, scaled values on the answers); the
API tests reuse them.
"""

import datetime as dt
import random
from types import SimpleNamespace

import pandas as pd
import pytest

from relhealth.analytics import frames, metrics, service, trends
from relhealth.analytics.metrics import AnalyticsSettings
from relhealth.analytics.people import last_answered, map_scores
from relhealth.auth.models import Role
from relhealth.cohorts.models import Confidentiality, InvitationStatus, WaveStatus
from relhealth.core.errors import InvalidInput
from relhealth.extensions import db
from relhealth.surveys.builtin import DIMENSIONS
from relhealth.surveys.models import Answer, QuestionType, Response, ResponseSource
from tests import factories as f

Q1 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
Q2 = dt.datetime(2026, 4, 6, 9, 0, tzinfo=dt.UTC)
Q3 = dt.datetime(2026, 7, 6, 9, 0, tzinfo=dt.UTC)


def answered(person, wave, nps, ratings, *, account=None, text=None, at=None, invite=True):
    """A response of ``person`` in ``wave`` (None: imported history at ``at``).

    ``ratings``: one 1..5 value for every dimension, or a dict dimension -> value.
    """
    account_id = account.id if account is not None else person.account_id
    if not isinstance(ratings, dict):
        ratings = dict.fromkeys(DIMENSIONS, ratings)
    answers = [
        Answer(
            question_key="nps",
            question_type=QuestionType.NPS,
            dimension="overall",
            value=nps,
            scaled=10.0 * nps,
        )
    ]
    answers += [
        Answer(
            question_key=dimension,
            question_type=QuestionType.RATING,
            dimension=dimension,
            value=value,
            scaled=100 * (value - 1) / 4,
        )
        for dimension, value in ratings.items()
    ]
    if text is not None:
        answers.append(
            Answer(
                question_key="comments",
                question_type=QuestionType.TEXT,
                text=text,
                sentiment=0.5,
            )
        )
    invitation_id = None
    if wave is not None and invite:
        invitation = f.InvitationFactory(
            wave=wave,
            person=person,
            account_id=account_id,
            status=InvitationStatus.RESPONDED,
        )
        invitation_id = invitation.id
    response = Response(
        invitation_id=invitation_id,
        wave_id=wave.id if wave is not None else None,
        survey_version_id=wave.survey_version_id if wave is not None else None,
        person_id=person.id,
        account_id=account_id,
        side=person.side,
        seniority=person.seniority,
        submitted_at=at or (wave.opens_at + dt.timedelta(days=2)),
        source=ResponseSource.API if wave is not None else ResponseSource.IMPORT,
        answers=answers,
    )
    db.session.add(response)
    db.session.flush()
    return response


def closed_wave(program, opens_at, occurrence):
    return f.WaveFactory(
        program=program,
        occurrence=occurrence,
        opens_at=opens_at,
        closes_at=opens_at + dt.timedelta(days=14),
        status=WaveStatus.CLOSED,
    )


@pytest.fixture
def acme(session):
    """Acme, hand-sized: an identified program with two waves, six people on each side.

    Wave 1: exec 9/4, senior 7/3, manager 5/2, staff 8/4 (theirs); ours: 9/5, 8/4.
    Wave 2: the exec and the senior again (10/5, 6/2), the manager silent (invited), a new
    staff member 9/4; ours: 9/5, 7/3. Also one imported history response without a wave.
    """
    account = f.AccountFactory(name="Acme")
    program = f.ProgramFactory(name="Acme listening")
    w1 = closed_wave(program, Q1, "2026-01")
    w2 = closed_wave(program, Q2, "2026-04")
    exec_ = f.PersonFactory(account=account, seniority="executive", first_name="Cora")
    senior = f.PersonFactory(account=account, seniority="senior", first_name="Dan")
    manager = f.PersonFactory(account=account, seniority="manager", first_name="Lena")
    staff = f.PersonFactory(account=account, seniority="staff", first_name="Enzo")
    newcomer = f.PersonFactory(account=account, seniority="staff", first_name="Nia")
    ours = [f.StaffFactory(seniority="executive"), f.StaffFactory(seniority="manager")]
    answered(exec_, w1, 9, 4, text="Great people, slow invoices")
    answered(senior, w1, 7, 3)
    answered(manager, w1, 5, 2)
    answered(staff, w1, 8, 4)
    answered(ours[0], w1, 9, 5, account=account)
    answered(ours[1], w1, 8, 4, account=account)
    answered(exec_, w2, 10, 5)
    answered(senior, w2, 6, 2)
    f.InvitationFactory(wave=w2, person=manager, status=InvitationStatus.EXPIRED)
    answered(newcomer, w2, 9, 4)
    answered(ours[0], w2, 9, 5, account=account)
    answered(ours[1], w2, 7, 3, account=account)
    answered(staff, None, 3, 1, at=dt.datetime(2025, 8, 1, tzinfo=dt.UTC))
    db.session.flush()
    return SimpleNamespace(
        account=account,
        program=program,
        waves=(w1, w2),
        exec=exec_,
        senior=senior,
        manager=manager,
        staff=staff,
        newcomer=newcomer,
        ours=ours,
    )


def generated_portfolio(seed=7, accounts=4, people=6, waves=3, confidential_every=2):
    """Random answers over a few accounts and programs, some confidential (k = 3)."""
    rng = random.Random(seed)  # noqa: S311 -- test data, not secrets
    built = []
    program_waves = []
    for p in range(2):
        confidential = p % confidential_every == 0
        program = f.ProgramFactory(
            confidentiality=(
                Confidentiality.CONFIDENTIAL if confidential else Confidentiality.IDENTIFIED
            ),
            min_group_size=3,
        )
        program_waves.append(
            [
                closed_wave(program, Q1 + dt.timedelta(days=91 * w), f"gen-{p}-{w}")
                for w in range(waves)
            ]
        )
    levels = ("executive", "senior", "manager", "staff")
    for a in range(accounts):
        account = f.AccountFactory()
        built.append(account)
        waves_of = program_waves[a % 2]
        crowd = [
            f.PersonFactory(account=account, seniority=rng.choice(levels)) for _ in range(people)
        ]
        crowd += [f.StaffFactory(seniority=rng.choice(levels)) for _ in range(2)]
        for wave in waves_of:
            for person in crowd:
                if rng.random() < 0.25:
                    continue
                ratings = {d: rng.randint(1, 5) for d in rng.sample(DIMENSIONS, 4)}
                answered(
                    person,
                    wave,
                    rng.randint(0, 10),
                    ratings,
                    account=account,
                    text="fine" if rng.random() < 0.3 else None,
                    invite=False,
                )
        for person in crowd[:2]:
            answered(
                person,
                None,
                rng.randint(0, 10),
                rng.randint(1, 5),
                account=account,
                at=dt.datetime(2025, 6, 1 + a, tzinfo=dt.UTC),
            )
    db.session.flush()
    return built


# Loaders -------------------------------------------------------------------------------------


def test_load_answers_has_the_contract_columns_and_dtypes(acme):
    answers = service.load_answers(db.session, account_ids=[acme.account.id])

    assert list(answers.columns) == list(frames.ANSWER_COLUMNS)
    assert {c: str(t) for c, t in answers.dtypes.items()} == {
        c: str(pd.Series(dtype=t).dtype) for c, t in frames.ANSWER_COLUMNS.items()
    }
    # 11 responses in waves and one imported, each nps + 7 ratings; one text answer.
    assert len(answers) == 12 * 8 + 1


def test_load_answers_carries_wave_time_top_level_and_k(acme):
    answers = service.load_answers(db.session, account_ids=[acme.account.id])
    _, w2 = acme.waves

    history = answers[answers["wave_id"].isna()]
    assert set(history["wave_at"]) == {pd.Timestamp("2025-08-01", tz="UTC")}
    assert history["program_id"].isna().all()
    in_w2 = answers[answers["wave_id"] == w2.id]
    assert set(in_w2["wave_at"]) == {pd.Timestamp(w2.opens_at)}
    assert set(in_w2["program_id"]) == {acme.program.id}
    tops = answers[answers["is_top"]]
    assert set(tops["seniority"]) == {"executive"}
    assert set(tops["side"]) == {"external", "internal"}
    assert (answers["k"] == 1).all()  # identified program
    text = answers[answers["question_type"] == "text"]
    assert text["text"].tolist() == ["Great people, slow invoices"]
    assert text["value"].isna().all()
    assert text["sentiment"].tolist() == [0.5]
    nps = answers[(answers["person_id"] == acme.exec.id) & (answers["question_key"] == "nps")]
    assert sorted(nps["value"]) == [9.0, 10.0]
    assert sorted(nps["scaled"]) == [90.0, 100.0]


def test_load_answers_of_a_confidential_program_carry_its_k(session):
    program = f.ProgramFactory(confidentiality=Confidentiality.CONFIDENTIAL, min_group_size=4)
    wave = closed_wave(program, Q1, "c1")
    person = f.PersonFactory()
    answered(person, wave, 8, 3)

    answers = service.load_answers(db.session, account_ids=[person.account_id])

    assert (answers["k"] == 4).all()


def test_a_confidential_program_of_k_1_still_reads_as_confidential(session):
    program = f.ProgramFactory(confidentiality=Confidentiality.CONFIDENTIAL, min_group_size=1)
    wave = closed_wave(program, Q1, "c1")
    person = f.PersonFactory()
    answered(person, wave, 8, 3, text="Named nowhere")

    answers = service.load_answers(db.session, account_ids=[person.account_id])

    assert (answers["k"] == 2).all()  # k > 1: no names, no per-person score, not "heard"
    assert last_answered(answers) == {}
    assert map_scores(answers) == ({}, {})


def test_load_answers_of_an_empty_scope_is_an_empty_typed_frame(session):
    account = f.AccountFactory()

    answers = service.load_answers(db.session, account_ids=[account.id])

    assert answers.empty
    assert list(answers.columns) == list(frames.ANSWER_COLUMNS)
    assert str(answers["wave_at"].dtype) == "datetime64[us, UTC]"


def test_load_answers_filters_by_program_and_since(acme):
    _, w2 = acme.waves

    since = service.load_answers(db.session, account_ids=[acme.account.id], since=Q2)
    program = service.load_answers(db.session, program_ids=[acme.program.id])

    assert set(since["wave_id"]) == {w2.id}
    assert program["wave_id"].notna().all()
    assert len(program) == 11 * 8 + 1


def test_load_answers_reads_only_accounts_the_user_may_read(acme, session):
    other = f.AccountFactory()
    answered(f.PersonFactory(account=other), None, 5, 3, at=Q1)
    manager = f.UserFactory(role=Role.ACCOUNT_MANAGER)
    acme.account.owner_id = manager.id
    db.session.flush()

    answers = service.load_answers(db.session, user=manager)

    assert set(answers["account_id"]) == {acme.account.id}


def test_load_invitations_has_the_contract_columns_and_flags(acme):
    invitations = service.load_invitations(db.session, account_ids=[acme.account.id])

    assert list(invitations.columns) == list(frames.INVITATION_COLUMNS)
    assert {c: str(t) for c, t in invitations.dtypes.items()} == {
        c: str(pd.Series(dtype=t).dtype) for c, t in frames.INVITATION_COLUMNS.items()
    }
    silent = invitations[invitations["person_id"] == acme.manager.id]
    assert silent[["invited", "responded"]].values.tolist() == [[True, True], [True, False]]
    assert len(invitations) == 12


def test_load_answer_stats_refuses_an_unknown_key(session):
    with pytest.raises(InvalidInput):
        service.load_answer_stats(db.session, ["colour"])


BYS = (
    [],
    ["account_id"],
    ["account_id", "wave_id", "side", "dimension"],
    ["program_id", "seniority", "is_top"],
    ["account_id", "question_key"],
)


@pytest.mark.parametrize("by", BYS, ids=lambda by: "+".join(by) or "all")
def test_load_answer_stats_equals_group_stats_of_the_loaded_answers(session, by):
    accounts = generated_portfolio()
    ids = [a.id for a in accounts]

    in_sql = service.load_answer_stats(db.session, by, account_ids=ids)
    in_pandas = metrics.group_stats(service.load_answers(db.session, account_ids=ids), by)

    assert len(in_sql) > 0
    pd.testing.assert_frame_equal(
        in_sql.sort_values(by).reset_index(drop=True) if by else in_sql,
        in_pandas.sort_values(by).reset_index(drop=True) if by else in_pandas,
        check_exact=False,
        rtol=1e-12,
        check_column_type=False,
        check_index_type=False,
    )


def test_load_answer_stats_of_the_latest_wave_keeps_only_each_accounts_latest_wave(session):
    accounts = generated_portfolio(accounts=3)
    late = closed_wave(f.ProgramFactory(), Q3 + dt.timedelta(days=30), "late")
    answered(f.PersonFactory(account=accounts[0]), late, 4, 2)
    ids = [a.id for a in accounts]
    by = ["account_id", "wave_id", "side", "dimension"]

    in_sql = service.load_answer_stats(db.session, by, account_ids=ids, latest_wave=True)
    answers = service.load_answers(db.session, account_ids=ids)
    answers = answers[answers["wave_id"].notna()]
    latest = answers.sort_values("wave_at").groupby("account_id")["wave_id"].last()
    answers = answers[answers["wave_id"].eq(answers["account_id"].map(latest)).to_numpy(bool)]
    in_pandas = metrics.group_stats(answers, by)

    assert set(in_sql.loc[in_sql["account_id"] == accounts[0].id, "wave_id"]) == {late.id}
    assert in_sql["account_id"].nunique() == 3
    pd.testing.assert_frame_equal(
        in_sql.sort_values(by).reset_index(drop=True),
        in_pandas.sort_values(by).reset_index(drop=True),
        check_exact=False,
        rtol=1e-12,
        check_column_type=False,
    )


def test_the_portfolio_summary_uses_the_latest_wave_their_people_answered(acme):
    later = closed_wave(acme.program, Q3, "2026-07")
    answered(acme.ours[0], later, 2, 1, account=acme.account)  # only ours in the latest wave
    admin = f.UserFactory(role=Role.ADMIN)

    summary = service.portfolio_summary(db.session, admin, {}, AnalyticsSettings())

    row = summary.set_index("account_id").loc[acme.account.id]
    assert row["wave_id"] == acme.waves[1].id
    assert row["respondents"] == 3
    assert row["health_status"] == "ok"


def test_the_latest_wave_stats_read_only_accounts_the_user_may_read(acme, session):
    other = f.AccountFactory()
    answered(f.PersonFactory(account=other), acme.waves[1], 5, 3, invite=False)
    manager = f.UserFactory(role=Role.ACCOUNT_MANAGER)
    acme.account.owner_id = manager.id
    db.session.flush()

    stats = service.load_answer_stats(db.session, ["account_id"], user=manager, latest_wave=True)

    assert stats["account_id"].tolist() == [acme.account.id]


# Gaps: one period, both sides -----------------------------------------------------------------


def test_gaps_compare_both_sides_of_one_period_across_programs(acme):
    """Ours answer in another program whose wave opens in the same quarter as theirs."""
    _, w2 = acme.waves
    ours_program = f.ProgramFactory(name="Account team pulse")
    pulse = closed_wave(ours_program, Q2 + dt.timedelta(days=3), "pulse-2026-04")
    late = f.StaffFactory(seniority="manager")
    answered(late, pulse, 6, 2, account=acme.account)

    gaps = service.account_gaps(db.session, acme.account, AnalyticsSettings())

    answers = service.load_answers(db.session, account_ids=[acme.account.id])
    in_q2 = answers[answers["wave_id"].isin([w2.id, pulse.id]).fillna(False).to_numpy(bool)]
    assert gaps["period"] == gaps["wave"] == "2026Q2"
    assert gaps["wave_ids"] == sorted([w2.id, pulse.id])
    assert gaps["wave_id"] == pulse.id  # the period's latest wave
    assert gaps["wave_at"] == pd.Timestamp(pulse.opens_at)
    pd.testing.assert_frame_equal(
        gaps["gaps"], metrics.internal_external_gap(in_q2, [], AnalyticsSettings())
    )
    trust = gaps["gaps"].set_index("dimension").loc["trust"]
    assert trust["respondents_internal"] == 3  # two of ours in w2, one in the pulse
    assert trust["respondents_external"] == 3
    assert trust["status"] == "ok"
    assert trust["internal"] == pytest.approx((100 + 50 + 25) / 3)


def test_gaps_and_panel_of_frames_already_loaded_are_those_they_would_load(acme):
    """The account report loads an account's answers once and hands them on."""
    settings = AnalyticsSettings()
    account = acme.account
    answers = service.load_answers(db.session, account_ids=[account.id])
    invitations = service.load_invitations(db.session, account_ids=[account.id])

    given = service.account_gaps(db.session, account, settings, answers=answers)
    loaded = service.account_gaps(db.session, account, settings)
    panel_given = service.account_panel(
        db.session, account, settings, answers=answers, invitations=invitations
    )
    panel_loaded = service.account_panel(db.session, account, settings)

    assert given["wave_ids"] == loaded["wave_ids"]
    assert given["period"] == loaded["period"]
    pd.testing.assert_frame_equal(given["gaps"], loaded["gaps"])
    pd.testing.assert_frame_equal(given["top_vs_line"], loaded["top_vs_line"])
    for name, table in panel_loaded.items():
        pd.testing.assert_frame_equal(panel_given[name], table)
    assert not panel_loaded["change"].empty


def test_gaps_of_a_chosen_wave_cover_its_period(acme):
    w1, w2 = acme.waves
    pulse = closed_wave(f.ProgramFactory(), Q1 + dt.timedelta(days=10), "pulse-2026-01")
    answered(f.StaffFactory(), pulse, 8, 4, account=acme.account)

    gaps = service.account_gaps(db.session, acme.account, AnalyticsSettings(), wave_id=w1.id)

    assert gaps["period"] == "2026Q1"
    assert gaps["wave_id"] == w1.id
    assert gaps["wave_at"] == pd.Timestamp(w1.opens_at)
    assert gaps["wave_ids"] == sorted([w1.id, pulse.id])
    assert gaps["gaps"]["n_internal"].max() == 3  # two of ours in w1, one in the pulse
    with pytest.raises(InvalidInput):
        service.account_gaps(db.session, acme.account, AnalyticsSettings(), wave_id=w2.id + 99)


def test_gaps_without_answers_name_no_period(session):
    gaps = service.account_gaps(db.session, f.AccountFactory(), AnalyticsSettings())

    assert gaps["period"] is None and gaps["wave_id"] is None and gaps["wave_ids"] == []  # noqa: PT018
    assert gaps["gaps"].empty


def test_the_period_is_the_calendar_quarter_of_the_wave_opening():
    opened = pd.Series(
        pd.to_datetime(["2026-03-31 23:59", "2026-04-01 00:00", "2025-12-01 09:00"], utc=True)
    )

    assert metrics.period_key(opened).tolist() == ["2026Q1", "2026Q2", "2025Q4"]


# The portfolio's trend ----------------------------------------------------------------------


def by_quarter(answers: pd.DataFrame) -> pd.DataFrame:
    """The answers with their waves forgotten: ``trends.trend`` then keys them by the quarter of
    ``wave_at`` (the wave's opening, or the submission of history), the portfolio's periods."""
    return answers.assign(wave_id=pd.array([pd.NA] * len(answers), dtype="Int64"))


@pytest.mark.parametrize("by", [None, "side", "seniority", "dimension"])
def test_the_portfolio_trend_is_the_trend_of_every_answer_per_quarter(session, by):
    # Two programs (one confidential, k = 3) whose waves open in the same quarters; each person
    # answers once per quarter, and two per account in imported history of 2025Q2.
    generated_portfolio(accounts=4)
    admin = f.UserFactory(role=Role.ADMIN)
    settings = AnalyticsSettings()

    in_sql = service.portfolio_trends(db.session, admin, by, {}, settings)
    answers = service.load_answers(db.session, user=admin)
    in_pandas = trends.trend(by_quarter(answers), by, settings)

    assert list(in_sql["wave"].drop_duplicates()) == ["2025Q2", "2026Q1", "2026Q2", "2026Q3"]
    assert in_sql["p_value"].notna().any()
    pd.testing.assert_frame_equal(
        in_sql,
        in_pandas,
        check_exact=False,
        rtol=1e-9,
        atol=1e-9,
        check_dtype=False,
    )


def test_the_portfolio_trend_counts_only_the_accounts_the_user_may_read(session):
    accounts = generated_portfolio(accounts=4)
    manager = f.UserFactory(role=Role.ACCOUNT_MANAGER)
    for account in accounts[:2]:
        account.owner_id = manager.id
    db.session.flush()
    settings = AnalyticsSettings()

    mine = service.portfolio_trends(db.session, manager, "side", {}, settings)
    answers = service.load_answers(db.session, account_ids=[a.id for a in accounts[:2]])
    everyone = service.portfolio_trends(db.session, None, "side", {}, settings)

    expected = trends.trend(by_quarter(answers), "side", settings)
    pd.testing.assert_frame_equal(mine, expected, check_exact=False, rtol=1e-9, check_dtype=False)
    assert mine["n"].sum() < everyone["n"].sum()
    owned = {"owner_id": manager.id}
    admin = f.UserFactory(role=Role.ADMIN)
    by_owner = service.portfolio_trends(db.session, admin, "side", owned, settings)
    pd.testing.assert_frame_equal(by_owner, mine)


def test_a_person_in_two_waves_of_one_quarter_counts_twice(acme):
    # Acme's exec answers a second program's wave that opened in the first wave's quarter.
    other = closed_wave(f.ProgramFactory(), Q1 + dt.timedelta(days=20), "other-1")
    answered(acme.exec, other, 3, 2)
    settings = AnalyticsSettings()

    table = service.portfolio_trends(db.session, None, None, {}, settings)
    answers = service.load_answers(db.session)
    distinct = trends.trend(by_quarter(answers), None, settings)

    q1 = table.set_index("wave").loc["2026Q1"]
    assert q1["respondents"] == distinct.set_index("wave").loc["2026Q1", "respondents"] + 1
    assert q1["n"] == distinct.set_index("wave").loc["2026Q1", "n"]
    assert q1["wave_at"] == pd.Timestamp(Q1)


def test_an_empty_portfolio_has_an_empty_trend_with_its_columns(session):
    table = service.portfolio_trends(db.session, None, "dimension", {}, AnalyticsSettings())
    assert table.empty
    assert {"dimension", "wave", "wave_at", "mean", "respondents", "change", "p_value"} <= set(
        table.columns
    )


def test_the_portfolio_trend_refuses_an_unknown_breakdown(session):
    with pytest.raises(InvalidInput):
        service.portfolio_trends(db.session, None, "colour", {}, AnalyticsSettings())
