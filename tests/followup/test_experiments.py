"""Outreach experiments: seeded stratified arms, held control cases, audit, and the comparison."""

import datetime as dt
import math
from decimal import Decimal

import pytest
from scipy import stats
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError

from relhealth.accounts.models import Tier
from relhealth.auth.models import Role
from relhealth.core.errors import Conflict, Forbidden, InvalidInput
from relhealth.extensions import db
from relhealth.followup import experiments, service
from relhealth.followup.experiments import arm_for, assign_arms, assignment_digest, welch
from relhealth.followup.models import (
    Arm,
    CaseReason,
    CaseStatus,
    Experiment,
    ExperimentAssignment,
    ExperimentEvent,
    ExperimentStatus,
)
from tests import factories as f
from tests.followup.conftest import NOW

LATER = NOW + dt.timedelta(days=30)
DAY = NOW.date()

# Pure: the draw and the statistics -------------------------------------------------------


def subjects(n_per_tier=(10, 20, 30)):
    keys = iter(range(1, 1000))
    return {
        next(keys): tier
        for tier, n in zip(("strategic", "key", "standard"), n_per_tier, strict=True)
        for _ in range(n)
    }


def test_the_same_seed_draws_the_same_arms_whatever_the_order():
    people = subjects()
    shuffled = dict(reversed(list(people.items())))
    assert assign_arms(people, 42, 0.5) == assign_arms(shuffled, 42, 0.5)
    assert assign_arms(people, 42, 0.5) != assign_arms(people, 43, 0.5)


def test_each_tier_is_split_by_the_share():
    people = subjects((10, 20, 5))
    arms = assign_arms(people, 7, 0.3)
    for tier, n in (("strategic", 10), ("key", 20), ("standard", 5)):
        outreach = [k for k, t in people.items() if t == tier and arms[k] == Arm.OUTREACH]
        assert len(outreach) == round(0.3 * n)


def test_the_digest_depends_on_the_assignments_not_their_order():
    rows = [
        {"response_id": 2, "person_id": 5, "account_id": 1, "stratum": "key", "arm": "control"},
        {"response_id": 1, "person_id": 4, "account_id": 1, "stratum": "key", "arm": "outreach"},
    ]
    assert assignment_digest(rows) == assignment_digest(list(reversed(rows)))
    flipped = [{**rows[0], "arm": "outreach"}, rows[1]]
    assert assignment_digest(flipped) != assignment_digest(rows)
    assert len(assignment_digest(rows)) == 64


def test_welch_interval_matches_a_hand_computation():
    # Equal n and variances: df = 2(n - 1) = 4, t(0.975, 4) = 2.776445 from the t table.
    result = welch([1.0, 3.0, 5.0], [0.0, 2.0, 4.0])
    se = math.sqrt(4 / 3 + 4 / 3)
    assert result.difference == pytest.approx(1.0)
    assert result.df == pytest.approx(4.0)
    assert result.ci_low == pytest.approx(1.0 - 2.776445 * se, abs=1e-5)
    assert result.ci_high == pytest.approx(1.0 + 2.776445 * se, abs=1e-5)
    assert result.status == "ok"


def test_welch_interval_matches_scipy_with_unequal_variances():
    outreach, control = [12.0, 30.0, 18.0, 25.0], [2.0, -5.0, 10.0, 0.0, 4.0, 1.0]
    result = welch(outreach, control)
    reference = stats.ttest_ind(outreach, control, equal_var=False)
    low, high = reference.confidence_interval(0.95)
    assert result.ci_low == pytest.approx(low)
    assert result.ci_high == pytest.approx(high)
    assert result.p_value == pytest.approx(reference.pvalue)
    assert result.n_outreach == 4
    assert result.n_control == 6


@pytest.mark.parametrize(("outreach", "control"), [([1.0], [1.0, 2.0]), ([1.0, 2.0], []), ([], [])])
def test_fewer_than_two_in_an_arm_is_insufficient(outreach, control):
    result = welch(outreach, control)
    assert result.status == "insufficient"
    assert result.difference is None
    assert result.ci_low is None


def test_arms_that_do_not_vary_have_an_interval_of_one_point():
    result = welch([1.0, 1.0], [0.0, 0.0])
    assert (result.difference, result.ci_low, result.ci_high) == (1.0, 1.0, 1.0)


# Defining --------------------------------------------------------------------------------

DEFINITION = {
    "name": "Call within 48h",
    "hypothesis": "A call lifts the next score",
    "period_start": DAY - dt.timedelta(days=7),
    "period_end": DAY,
    "seed": 42,
    "outreach_share": 0.5,
}


def define(user, **changes):
    return experiments.create_experiment(db.session, user, {**DEFINITION, **changes}, NOW)


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_an_admin_defines_a_draft_and_it_is_audited(world):
    experiment = define(world.admin)
    assert experiment.status == ExperimentStatus.DRAFT
    assert experiment.created_by_id == world.admin.id
    (event,) = experiments.events_of(db.session, experiment)
    assert event.kind == "created"
    assert event.actor_id == world.admin.id
    assert event.detail["seed"] == 42


def test_an_executive_may_define_one_and_an_account_manager_may_not(world):
    assert define(world.executive).status == ExperimentStatus.DRAFT
    with pytest.raises(Forbidden):
        define(world.owner, name="Mine")


def test_a_seed_is_drawn_when_none_is_given(world):
    experiment = define(world.admin, seed=None)
    assert 0 <= experiment.seed <= experiments.MAX_SEED


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"period_end": DAY - dt.timedelta(days=8)}, "period_end"),
        ({"outreach_share": 0.0}, "outreach_share"),
        ({"outreach_share": 1.0}, "outreach_share"),
        ({"outreach_share": -0.2}, "outreach_share"),
        ({"seed": -1}, "seed"),
        ({"name": "   "}, "name"),
    ],
)
def test_a_bad_definition_is_refused_and_nothing_is_stored(world, changes, field):
    with pytest.raises(InvalidInput) as error:
        define(world.admin, **changes)
    assert field in error.value.fields
    assert count(Experiment) == 0
    assert count(ExperimentEvent) == 0


def test_a_name_is_used_once(world):
    define(world.admin)
    with pytest.raises(Conflict):
        define(world.admin)


# Starting --------------------------------------------------------------------------------


@pytest.fixture
def detractors(world, open_case):
    """``detractors(tier, n)``: n people of an account of that tier, each with a detractor
    case from a response submitted at NOW."""

    def detractors(tier=Tier.KEY, n=1, **answers):
        account = f.AccountFactory(tier=tier, owner_id=world.owner.id, annual_value=1000)
        answers = {"nps": 3, "ratings": (4, 5), **answers}
        return [open_case(f.PersonFactory(account=account), **answers) for _ in range(n)]

    return detractors


def arms_of(experiment):
    return {
        a.response_id: a.arm
        for a in db.session.scalars(
            select(ExperimentAssignment).where(ExperimentAssignment.experiment_id == experiment.id)
        )
    }


def test_starting_assigns_the_periods_untouched_detractors_stratified_by_tier(
    world, detractors, settings
):
    cases = detractors(Tier.STRATEGIC, 4) + detractors(Tier.KEY, 6) + detractors(Tier.STANDARD, 3)
    experiment = define(world.admin)
    experiments.start_experiment(db.session, experiment, world.admin, settings, NOW)
    assert experiment.status == ExperimentStatus.RUNNING
    assert experiment.started_at == NOW
    counts = {row["stratum"]: row for row in experiments.assignment_counts(db.session, experiment)}
    assert (counts["strategic"]["outreach"], counts["strategic"]["control"]) == (2, 2)
    assert (counts["key"]["outreach"], counts["key"]["control"]) == (3, 3)
    assert (counts["standard"]["outreach"], counts["standard"]["control"]) == (2, 1)  # round(1.5)
    arms = arms_of(experiment)
    for case_ in cases:
        db.session.refresh(case_)
        assert case_.experiment_id == experiment.id
        assert case_.held == (arms[case_.response_id] == Arm.CONTROL)


def test_the_start_is_audited_with_a_digest_of_the_assignments(world, detractors, settings):
    detractors(Tier.KEY, 5)
    experiment = define(world.admin)
    experiments.start_experiment(db.session, experiment, world.admin, settings, NOW)
    started = experiments.events_of(db.session, experiment)[-1]
    assert started.kind == "started"
    assert started.actor_id == world.admin.id
    assert started.detail["assigned"] == 5
    assert started.detail["outreach"] + started.detail["control"] == 5
    assignments = db.session.scalars(
        select(ExperimentAssignment).where(ExperimentAssignment.experiment_id == experiment.id)
    ).all()
    assert started.detail["digest"] == assignment_digest(
        [
            {
                "response_id": a.response_id,
                "person_id": a.person_id,
                "account_id": a.account_id,
                "stratum": a.stratum,
                "arm": a.arm,
            }
            for a in assignments
        ]
    )
    assert experiments.audit(db.session, experiment)["intact"] is True
    assert all(a.baseline_score == 87.5 for a in assignments)  # ratings 4 and 5 of 1-5
    assert all(a.baseline_value == Decimal("1000.00") for a in assignments)


def test_the_same_seed_over_the_same_cases_draws_the_same_arms(world, detractors, settings):
    detractors(Tier.KEY, 8)
    detractors(Tier.STANDARD, 7)
    draws = []
    for name, seed in (("first", 42), ("again", 42), ("other seed", 4242)):
        savepoint = db.session.begin_nested()
        experiment = define(world.admin, name=name, seed=seed)
        experiments.start_experiment(db.session, experiment, world.admin, settings, NOW)
        draws.append(arms_of(experiment))
        savepoint.rollback()
    assert draws[0] == draws[1]
    assert draws[0] != draws[2]
    assert len(draws[0]) == 15


def test_only_untouched_detractor_cases_of_the_period_are_assigned(
    world, detractors, settings, respond, open_case
):
    (eligible,) = detractors(Tier.KEY, 1)
    (contacted,) = detractors(Tier.KEY, 1)
    contacted.first_contact_at = NOW
    (ended,) = detractors(Tier.KEY, 1)
    service.transition(db.session, ended, CaseStatus.CLOSED_UNRESOLVED, world.owner, NOW)
    person = f.PersonFactory(account=world.acme)
    early = open_case(person, nps=3, ratings=(4, 5), submitted_at=NOW - dt.timedelta(days=30))
    low = open_case(f.PersonFactory(account=world.acme), nps=8, ratings=(1, 2))
    assert low.reason == CaseReason.LOW_SCORE
    experiment = define(world.admin)
    experiments.start_experiment(db.session, experiment, world.admin, settings, NOW)
    assert set(arms_of(experiment)) == {eligible.response_id}
    for other in (contacted, ended, early, low):
        assert other.experiment_id is None
        assert other.held is False


def test_a_case_in_one_experiment_is_not_drawn_into_another(world, detractors, settings):
    detractors(Tier.KEY, 2)
    first = define(world.admin)
    experiments.start_experiment(db.session, first, world.admin, settings, NOW)
    second = define(world.admin, name="Second")
    experiments.start_experiment(db.session, second, world.admin, settings, NOW)
    assert second.status == ExperimentStatus.RUNNING  # its period runs: arrivals may join
    assert arms_of(second) == {}
    assert len(arms_of(first)) == 2


def test_a_control_respondent_hears_nothing_until_the_end(world, respond, settings):
    # nps 2 and poor ratings: a detractor case and a low-score case for the same person.
    response = respond(f.PersonFactory(account=world.acme), nps=2, ratings=(1, 2))
    case_, other = service.open_cases_for_response(db.session, response.id, settings, NOW)
    assert (case_.reason, other.reason) == (CaseReason.DETRACTOR, CaseReason.LOW_SCORE)
    experiment = define(world.admin, outreach_share=0.4)  # round(0.4) = 0: control
    experiments.start_experiment(db.session, experiment, world.admin, settings, NOW)
    assert arms_of(experiment) == {case_.response_id: Arm.CONTROL}
    assert case_.held
    assert other.held
    visible = db.session.scalars(service.case_query(world.owner, {})).all()
    assert case_ not in visible
    assert other not in visible
    assert experiments.events_of(db.session, experiment)[-1].detail["held_cases"] == 2


def test_starting_twice_is_refused_and_changes_nothing(world, detractors, settings):
    detractors(Tier.KEY, 3)
    experiment = define(world.admin)
    experiments.start_experiment(db.session, experiment, world.admin, settings, NOW)
    before = (arms_of(experiment), count(ExperimentEvent), experiment.started_at)
    with pytest.raises(Conflict, match="started already"):
        experiments.start_experiment(db.session, experiment, world.admin, settings, LATER)
    assert (arms_of(experiment), count(ExperimentEvent), experiment.started_at) == before


def test_a_period_that_is_over_without_detractors_cannot_start(world, settings):
    experiment = define(world.admin, period_end=DAY - dt.timedelta(days=1))
    with pytest.raises(Conflict, match="nobody to assign"):
        experiments.start_experiment(db.session, experiment, world.admin, settings, NOW)
    assert experiment.status == ExperimentStatus.DRAFT
    assert count(ExperimentAssignment) == 0


def test_only_admins_and_executives_start_and_finish(world, detractors, settings):
    detractors(Tier.KEY, 2)
    experiment = define(world.admin)
    with pytest.raises(Forbidden):
        experiments.start_experiment(db.session, experiment, world.owner, settings, NOW)
    experiments.start_experiment(db.session, experiment, world.executive, settings, NOW)
    with pytest.raises(Forbidden):
        experiments.finish_experiment(db.session, experiment, world.viewer, settings, LATER)
    assert experiment.status == ExperimentStatus.RUNNING


def test_a_running_experiment_cannot_be_redefined(world, detractors, settings):
    detractors(Tier.KEY, 2)
    experiment = define(world.admin)
    experiments.update_experiment(db.session, experiment, world.admin, {"seed": 7}, NOW)
    assert experiment.seed == 7
    assert experiments.events_of(db.session, experiment)[-1].detail["changed"] == {"seed": [42, 7]}
    experiments.start_experiment(db.session, experiment, world.admin, settings, NOW)
    with pytest.raises(Conflict, match="running"):
        experiments.update_experiment(db.session, experiment, world.admin, {"seed": 8}, NOW)
    assert experiment.seed == 7
    with pytest.raises(Conflict):
        experiments.refuse_assignment_change(experiment)


# Finishing -------------------------------------------------------------------------------


def test_finishing_releases_the_control_cases_due_from_then(world, detractors, settings):
    cases = detractors(Tier.KEY, 6)
    experiment = define(world.admin)
    experiments.start_experiment(db.session, experiment, world.admin, settings, NOW)
    arms = arms_of(experiment)
    outreach_due = {c.id: c.first_contact_due for c in cases if arms[c.response_id] == "outreach"}
    experiments.finish_experiment(db.session, experiment, world.admin, settings, LATER)
    assert experiment.status == ExperimentStatus.FINISHED
    assert experiment.finished_at == LATER
    for case_ in cases:
        assert case_.held is False
        if arms[case_.response_id] == Arm.CONTROL:
            assert case_.opened_at == LATER
            assert case_.first_contact_due == LATER + dt.timedelta(hours=48)
        else:
            assert case_.first_contact_due == outreach_due[case_.id]
    finished = experiments.events_of(db.session, experiment)[-1]
    assert (finished.kind, finished.detail["released"]) == ("finished", 3)
    assert set(db.session.scalars(service.case_query(world.owner, {}))) >= set(cases)


def test_finishing_a_draft_or_twice_is_refused(world, detractors, settings):
    detractors(Tier.KEY, 2)
    experiment = define(world.admin)
    with pytest.raises(Conflict, match="not started"):
        experiments.finish_experiment(db.session, experiment, world.admin, settings, NOW)
    assert experiment.status == ExperimentStatus.DRAFT
    experiments.start_experiment(db.session, experiment, world.admin, settings, NOW)
    experiments.finish_experiment(db.session, experiment, world.admin, settings, LATER)
    with pytest.raises(Conflict, match="finished already"):
        experiments.finish_experiment(db.session, experiment, world.admin, settings, LATER)
    with pytest.raises(Conflict, match="finished"):
        experiments.start_experiment(db.session, experiment, world.admin, settings, LATER)


# The database keeps assignments as written ----------------------------------------------


def test_the_database_refuses_to_update_an_assignment(world, detractors, settings):
    detractors(Tier.KEY, 2)
    experiment = define(world.admin)
    experiments.start_experiment(db.session, experiment, world.admin, settings, NOW)
    assignment = db.session.scalars(select(ExperimentAssignment)).first()
    arm = assignment.arm
    savepoint = db.session.begin_nested()
    with pytest.raises(DBAPIError, match="cannot be changed"):
        db.session.execute(
            update(ExperimentAssignment)
            .where(ExperimentAssignment.id == assignment.id)
            .values(arm=Arm.OUTREACH if arm == Arm.CONTROL else Arm.CONTROL)
        )
    savepoint.rollback()
    savepoint = db.session.begin_nested()
    with pytest.raises(DBAPIError, match="cannot be changed"):
        db.session.execute(
            text("UPDATE experiment_assignments SET stratum = 'strategic' WHERE id = :id"),
            {"id": assignment.id},
        )
    savepoint.rollback()
    db.session.expire_all()
    assert db.session.get(ExperimentAssignment, assignment.id).arm == arm
    assert experiments.audit(db.session, experiment)["intact"] is True


# Outcomes --------------------------------------------------------------------------------


@pytest.fixture
def measured(world, respond):
    """A finished experiment with assignments written directly: ``person(arm, ...)`` adds one."""
    experiment = define(world.admin)
    experiment.status = ExperimentStatus.FINISHED

    def person(arm, *, baseline=50.0, later_ratings=None, wave=None, account=None, value=1000):
        account = account or f.AccountFactory(annual_value=Decimal(value))
        someone = f.PersonFactory(account=account)
        detracting = respond(someone, nps=3, ratings=(3,))
        db.session.add(
            ExperimentAssignment(
                experiment_id=experiment.id,
                response_id=detracting.id,
                person_id=someone.id,
                account_id=account.id,
                stratum=account.tier.value,
                arm=arm,
                baseline_score=baseline,
                baseline_value=Decimal(1000),
                assigned_at=NOW,
            )
        )
        if later_ratings is not None:
            respond(someone, nps=8, ratings=later_ratings, submitted_at=LATER, wave=wave)
        db.session.flush()
        return account

    return experiment, person


def outcome(result, key):
    return next(o for o in result["outcomes"] if o["outcome"] == key)


def test_score_change_compares_the_next_response_with_the_baseline(measured):
    experiment, person = measured
    # Ratings 1-5 scale to 0-100: 5 -> 100, 4 -> 75, 3 -> 50, 2 -> 25.
    person(Arm.OUTREACH, later_ratings=(5,))  # +50
    person(Arm.OUTREACH, later_ratings=(4,))  # +25
    person(Arm.OUTREACH, later_ratings=(3,))  # 0
    person(Arm.CONTROL, later_ratings=(3,))  # 0
    person(Arm.CONTROL, later_ratings=(2,))  # -25
    person(Arm.CONTROL)  # no later response: not measured
    result = experiments.outcomes(db.session, experiment, LATER)
    score = outcome(result, "score_change")
    assert (score["n_outreach"], score["n_control"]) == (3, 2)
    assert score["mean_outreach"] == pytest.approx(25.0)
    assert score["mean_control"] == pytest.approx(-12.5)
    assert score["difference"] == pytest.approx(37.5)
    # By hand: s1^2 = 625 (n 3), s2^2 = 312.5 (n 2); se^2 = 208.33 + 156.25 = 364.58.
    a, b = 625 / 3, 312.5 / 2
    df = (a + b) ** 2 / (a**2 / 2 + b**2 / 1)
    half = stats.t.ppf(0.975, df) * math.sqrt(a + b)
    assert score["df"] == pytest.approx(df)
    assert score["ci_low"] == pytest.approx(37.5 - half)
    assert score["ci_high"] == pytest.approx(37.5 + half)
    assert result["assigned"] == {"outreach": 3, "control": 3}
    assert result["final"] is True


def test_a_confidential_later_response_is_not_counted(world, measured):
    experiment, person = measured
    person(Arm.OUTREACH, later_ratings=(5,), wave=world.secret_wave)
    score = outcome(experiments.outcomes(db.session, experiment, LATER), "score_change")
    assert score["n_outreach"] == 0


def test_renewal_and_value_change_per_arm(measured):
    experiment, person = measured
    renewal_day = (NOW + dt.timedelta(days=10)).date()
    renewed = person(Arm.OUTREACH, value=1200)
    renewed.renewal_date = renewal_day
    renewed_too = person(Arm.OUTREACH, value=1000)
    renewed_too.renewal_date = renewal_day
    churned = person(Arm.CONTROL, value=0)
    churned.renewal_date = renewal_day
    churned.ended_on = renewal_day - dt.timedelta(days=1)
    undecided = person(Arm.CONTROL, value=900)
    undecided.renewal_date = (LATER + dt.timedelta(days=100)).date()
    db.session.flush()
    result = experiments.outcomes(db.session, experiment, LATER)
    renewal = outcome(result, "renewal")
    assert (renewal["n_outreach"], renewal["n_control"]) == (2, 1)
    assert renewal["mean_outreach"] == 1.0
    assert renewal["mean_control"] == 0.0
    assert renewal["status"] == "insufficient"
    value = outcome(result, "value_change")
    assert (value["n_outreach"], value["n_control"]) == (2, 2)
    assert value["mean_outreach"] == pytest.approx(0.1)  # +20% and 0%
    assert value["mean_control"] == pytest.approx(-0.55)  # -100% and -10%
    assert value["difference"] == pytest.approx(0.65)


def test_an_experiment_without_measurements_is_insufficient_everywhere(measured):
    experiment, person = measured
    person(Arm.OUTREACH)
    result = experiments.outcomes(db.session, experiment, LATER)
    assert {o["outcome"]: o["status"] for o in result["outcomes"]} == {
        "score_change": "insufficient",
        "renewal": "insufficient",
        "value_change": "insufficient",
    }


def test_a_user_who_may_not_run_experiments_may_not_read_them(world):
    experiment = define(world.admin)
    with pytest.raises(Forbidden):
        experiments.get_experiment(db.session, world.owner, experiment.id)
    for role in (Role.ADMIN, Role.EXECUTIVE):
        user = f.UserFactory(role=role)
        assert experiments.get_experiment(db.session, user, experiment.id) is experiment


# Joining while it runs -------------------------------------------------------------------


def test_arrivals_are_drawn_in_seeded_blocks_that_hold_the_share_exactly():
    arms = [arm_for(42, "key", place, 0.3) for place in range(20)]
    assert arms[:10].count(Arm.OUTREACH) == 3
    assert arms[10:].count(Arm.OUTREACH) == 3
    assert arms == [arm_for(42, "key", place, 0.3) for place in range(20)]
    assert arms != [arm_for(43, "key", place, 0.3) for place in range(20)]


def arrive(person, respond, settings, when=NOW, **answers):
    """A response and the cases it opens (joining a running experiment as they open)."""
    response = respond(person, submitted_at=when, **answers)
    return service.open_cases_for_response(db.session, response.id, settings, when)


def test_a_detractor_answering_during_the_period_joins_the_running_experiment(
    world, respond, settings
):
    experiment = define(world.admin)
    experiments.start_experiment(db.session, experiment, world.admin, settings, NOW)
    account = f.AccountFactory(tier=Tier.STRATEGIC, owner_id=world.owner.id)
    people = [f.PersonFactory(account=account) for _ in range(4)]

    arrivals = [arrive(person, respond, settings, nps=2, ratings=(5, 5)) for person in people]

    expected = [arm_for(experiment.seed, "strategic", place, 0.5) for place in range(4)]
    assignments = db.session.scalars(
        select(ExperimentAssignment).order_by(ExperimentAssignment.id)
    ).all()
    assert [a.arm for a in assignments] == expected
    assert [a.person_id for a in assignments] == [person.id for person in people]
    for cases, arm in zip(arrivals, expected, strict=True):
        (case,) = cases
        assert case.experiment_id == experiment.id
        assert case.held == (arm == Arm.CONTROL)
    assert experiments.audit(db.session, experiment)["intact"]
    kinds = [event.kind for event in experiments.events_of(db.session, experiment)]
    assert kinds == ["created", "started", "assigned", "assigned", "assigned", "assigned"]


def test_a_control_person_hears_nothing_from_a_later_case_either(world, respond, settings):
    experiment = define(world.admin, seed=3)
    experiments.start_experiment(db.session, experiment, world.admin, settings, NOW)
    account = f.AccountFactory(tier=Tier.KEY, owner_id=world.owner.id)
    control = None
    while control is None:  # the first arrival the draw puts in the control arm
        person = f.PersonFactory(account=account)
        (case,) = arrive(person, respond, settings, nps=1, ratings=(5, 5))
        control = person if case.held else None

    (later,) = arrive(control, respond, settings, LATER, ratings=(1, 1))  # a low score

    assert later.reason == CaseReason.LOW_SCORE
    assert later.held
    assert later.experiment_id == experiment.id
    assert (
        db.session.scalar(select(func.count()).where(ExperimentAssignment.person_id == control.id))
        == 1
    )


def test_no_experiment_takes_answers_outside_its_period_or_after_it_finished(
    world, respond, settings
):
    experiment = define(world.admin)
    experiments.start_experiment(db.session, experiment, world.admin, settings, NOW)
    (late,) = arrive(world.ada, respond, settings, LATER, nps=0, ratings=(5, 5))
    assert (late.experiment_id, late.held) == (None, False)

    experiments.finish_experiment(db.session, experiment, world.admin, settings, LATER)
    person = f.PersonFactory(account=world.acme)
    (after,) = arrive(person, respond, settings, NOW, nps=0, ratings=(5, 5))
    assert (after.experiment_id, after.held) == (None, False)
    assert arms_of(experiment) == {}
