"""Outreach experiments: does following up on detractors change what they do next?

An experiment names a period. When it starts, the detractor cases whose response came in that
period and that nobody has touched yet are split at random into two arms: **outreach** (the
case goes to its owner as usual) and **control** (the case is held, invisible everywhere,
until the experiment finishes). The split is seeded and stratified by account tier
(``assign_arms``: within each tier, shuffled with ``random.Random(seed)``, the first
``round(share x n)`` reach out), so the same seed over the same cases gives the same arms.
Detractors who answer later in the period join as their cases open (``enrol``): each tier's
next place is drawn from seeded blocks of ten (``arm_for``), so the arms stay balanced within
every tier as people arrive; a person already assigned keeps their arm for every new case.

Assignments are written once (``ExperimentAssignment``; the database refuses to update them)
and audited: ``ExperimentEvent`` rows record who created, changed, started (with a SHA-256
digest of the assignment list, which ``assignment_digest`` recomputes) and finished it.
Finishing releases the held cases (``release_held_case``: due dates from then on).

``outcomes`` compares the arms on three outcomes: the change of the respondent's score at
their next response, whether the account renewed, and the relative change of its annual
value; the difference outreach - control with a 95% confidence interval (Welch's t, which
does not assume equal variances), or "insufficient" below two people in an arm.
Only admins and executives run experiments and read their results.
"""

import datetime as dt
import hashlib
import json
import math
import random
import secrets
import statistics
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any, NoReturn

from scipy import stats
from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from relhealth.accounts.models import Account
from relhealth.auth.models import Role, User
from relhealth.cohorts.models import Confidentiality, Program, Wave
from relhealth.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from relhealth.core.pagination import page_of, sorted_by
from relhealth.followup.models import (
    ENDED,
    Arm,
    Case,
    CaseReason,
    CaseStatus,
    Experiment,
    ExperimentAssignment,
    ExperimentEvent,
    ExperimentStatus,
)
from relhealth.followup.rules import FollowupSettings, due_dates
from relhealth.surveys.models import Answer, QuestionType, Response

MAX_SEED = 2**31 - 1
CONFIDENCE = 0.95
MIN_PER_ARM = 2  # Welch's interval needs a variance in each arm
EDITABLE = ("name", "hypothesis", "period_start", "period_end", "seed", "outreach_share")

EXPERIMENT_SORTS = {
    "created_at": Experiment.created_at,
    "name": Experiment.name,
    "status": Experiment.status,
    "period_start": Experiment.period_start,
}


# Who may ---------------------------------------------------------------------------------


def may_run_experiments(user: User) -> bool:
    """Create, start and finish experiments and read their results: admins and executives."""
    return user.role in (Role.ADMIN, Role.EXECUTIVE)


def _require(user: User) -> None:
    if not may_run_experiments(user):
        raise Forbidden("Only admins and executives run outreach experiments.")


# The assignment, pure ----------------------------------------------------------------------


def assign_arms(
    subjects: Mapping[Hashable, str], seed: int, outreach_share: float
) -> dict[Hashable, Arm]:
    """Each subject's arm: stratified by its stratum, shuffled with ``Random(seed)``.

    ``subjects`` maps a sortable key (the response id) to its stratum (the account tier).
    Strata are visited in sorted order and their keys sorted before the shuffle, so the result
    depends on the seed and the subjects only, never on the order they were read in.
    """
    rng = random.Random(seed)  # noqa: S311 -- reproducible on purpose, not a secret
    by_stratum: dict[str, list] = defaultdict(list)
    for key, stratum in subjects.items():
        by_stratum[stratum].append(key)
    arms: dict[Hashable, Arm] = {}
    for stratum in sorted(by_stratum):
        keys = sorted(by_stratum[stratum])
        rng.shuffle(keys)
        reach = round(outreach_share * len(keys))
        for index, key in enumerate(keys):
            arms[key] = Arm.OUTREACH if index < reach else Arm.CONTROL
    return arms


def assignment_digest(rows: Iterable[Mapping[str, Any]]) -> str:
    """SHA-256 of the assignment list (response, person, account, stratum, arm; by response).

    Recorded when the experiment starts; recomputing it from the stored rows shows they are
    the ones written then.
    """
    canonical = sorted(
        [
            int(row["response_id"]),
            int(row["person_id"]),
            int(row["account_id"]),
            str(row["stratum"]),
            str(Arm(row["arm"]).value),
        ]
        for row in rows
    )
    payload = json.dumps(canonical, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


# Creating and changing ---------------------------------------------------------------------


def _event(
    session: Session,
    experiment: Experiment,
    kind: str,
    user: User | None,
    now: dt.datetime,
    **detail: Any,
) -> ExperimentEvent:
    event = ExperimentEvent(
        experiment_id=experiment.id,
        kind=kind,
        actor_id=user.id if user is not None else None,
        detail=detail,
        occurred_at=now,
    )
    session.add(event)
    return event


def _check(values: Mapping[str, Any]) -> None:
    """The rules a definition obeys (the schema checks types and ranges)."""
    if values["period_end"] < values["period_start"]:
        raise InvalidInput.on("period_end", "The period must not end before it starts.")
    share = values["outreach_share"]
    if not 0 < share < 1:
        raise InvalidInput.on(
            "outreach_share", "The outreach share must be between 0 and 1 (exclusive)."
        )
    if not 0 <= values["seed"] <= MAX_SEED:
        raise InvalidInput.on("seed", f"The seed must be between 0 and {MAX_SEED}.")


def _name_taken(session: Session, name: str, but: int | None = None) -> None:
    stmt = select(Experiment.id).where(Experiment.name == name)
    if but is not None:
        stmt = stmt.where(Experiment.id != but)
    if session.scalar(stmt) is not None:
        raise Conflict(
            f"An experiment named {name!r} exists already.",
            {"name": ["An experiment of this name exists already."]},
        )


def create_experiment(
    session: Session, user: User, data: Mapping[str, Any], now: dt.datetime
) -> Experiment:
    """A draft experiment (nobody assigned yet); the seed is drawn at random if not given."""
    _require(user)
    values = {
        "name": data["name"].strip(),
        "hypothesis": (data.get("hypothesis") or "").strip() or None,
        "period_start": data["period_start"],
        "period_end": data["period_end"],
        "seed": data["seed"] if data.get("seed") is not None else secrets.randbelow(MAX_SEED),
        "outreach_share": float(
            data["outreach_share"] if data.get("outreach_share") is not None else 0.5
        ),
    }
    if not values["name"]:
        raise InvalidInput.on("name", "Give the experiment a name.")
    _check(values)
    _name_taken(session, values["name"])
    experiment = Experiment(**values, created_by_id=user.id, created_at=now)
    session.add(experiment)
    session.flush()
    _event(
        session,
        experiment,
        "created",
        user,
        now,
        **{key: _plain(value) for key, value in values.items() if key != "hypothesis"},
    )
    session.flush()
    return experiment


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _refuse_unless_draft(experiment: Experiment, doing: str) -> None:
    if experiment.status == ExperimentStatus.RUNNING:
        raise Conflict(
            f"The experiment is running: {doing} would change it after its arms were drawn."
        )
    if experiment.status == ExperimentStatus.FINISHED:
        raise Conflict(f"The experiment has finished: {doing} is no longer possible.")


def update_experiment(
    session: Session, experiment: Experiment, user: User, data: Mapping[str, Any], now: dt.datetime
) -> Experiment:
    """Change a draft's definition; a running or finished experiment is fixed (409)."""
    _require(user)
    _refuse_unless_draft(experiment, "changing its definition")
    values = {key: getattr(experiment, key) for key in EDITABLE}
    for key in EDITABLE:
        if key in data:
            value = data[key]
            if isinstance(value, str):
                value = value.strip() or None
            values[key] = value
    if not values["name"]:
        raise InvalidInput.on("name", "Give the experiment a name.")
    if values["seed"] is None:
        raise InvalidInput.on("seed", "A seed is needed to draw the arms.")
    _check(values)
    _name_taken(session, values["name"], but=experiment.id)
    changed = {
        key: [_plain(getattr(experiment, key)), _plain(value)]
        for key, value in values.items()
        if getattr(experiment, key) != value
    }
    if changed:
        for key, value in values.items():
            setattr(experiment, key, value)
        _event(session, experiment, "changed", user, now, changed=changed)
        session.flush()
    return experiment


# Starting and finishing --------------------------------------------------------------------


def _locked(session: Session, experiment: Experiment) -> Experiment:
    """The experiment re-read under a row lock (PostgreSQL), so two starts cannot both run."""
    return session.scalars(
        select(Experiment)
        .where(Experiment.id == experiment.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def _period_bounds(experiment: Experiment) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(experiment.period_start, dt.time(), tzinfo=dt.UTC)
    end = dt.datetime.combine(experiment.period_end, dt.time(), tzinfo=dt.UTC)
    return start, end + dt.timedelta(days=1)


def _untouched() -> Any:
    """A live case nobody has acted on, free to be assigned."""
    return and_(
        Case.status == CaseStatus.OPEN,
        Case.first_contact_at.is_(None),
        Case.held.is_(False),
        Case.experiment_id.is_(None),
    )


def eligible_cases(experiment: Experiment) -> Select:
    """Detractor cases of responses submitted in the period, still untouched.

    A person with another live case someone already acted on (or held, or in another
    experiment) is left out: they are not a clean control.
    """
    start, end = _period_bounds(experiment)
    touched = select(Case.person_id).where(
        Case.person_id.is_not(None),
        Case.status.not_in(ENDED),
        ~_untouched(),
    )
    return (
        select(Case, Response.submitted_at, Account.tier, Account.annual_value)
        .join(Response, Response.id == Case.response_id)
        .join(Account, Account.id == Case.account_id)
        .where(
            Case.reason == CaseReason.DETRACTOR,
            _untouched(),
            Response.submitted_at >= start,
            Response.submitted_at < end,
            Case.person_id.not_in(touched),
        )
        .order_by(Case.response_id)
    )


def _mean_ratings(session: Session, response_ids: Iterable[int]) -> dict[int, float]:
    """Each response's mean scaled rating (0-100) over its rated answers."""
    ids = sorted(set(response_ids))
    means: dict[int, float] = {}
    for start in range(0, len(ids), 1000):
        rows = session.execute(
            select(Answer.response_id, func.avg(Answer.scaled))
            .where(
                Answer.response_id.in_(ids[start : start + 1000]),
                Answer.question_type == QuestionType.RATING,
                Answer.scaled.is_not(None),
            )
            .group_by(Answer.response_id)
        )
        means.update({response_id: float(mean) for response_id, mean in rows})
    return means


def start_experiment(
    session: Session,
    experiment: Experiment,
    user: User,
    settings: FollowupSettings,
    now: dt.datetime,
) -> Experiment:
    """Draw the arms, write the assignments, hold the control arm's cases; flushes.

    The period's detractor cases that are waiting untouched are assigned now; those of
    responses still to come in the period are assigned as their cases open (``enrol``).
    Refused (409) unless the experiment is a draft, and when the period is over and holds no
    untouched detractor case (an experiment of nobody would only be noise in the audit trail).
    """
    _require(user)
    experiment = _locked(session, experiment)
    if experiment.status != ExperimentStatus.DRAFT:
        raise Conflict(
            "The experiment has started already: its arms are drawn once."
            if experiment.status == ExperimentStatus.RUNNING
            else "The experiment has finished: it cannot start again."
        )
    rows = session.execute(eligible_cases(experiment).with_for_update(of=Case)).all()
    if not rows and _period_bounds(experiment)[1] <= now:
        raise Conflict(
            "No detractor case of this period is waiting untouched and the period is over:"
            " there is nobody to assign. Widen the period."
        )
    cases = {row.Case.response_id: row for row in rows}
    arms = assign_arms(
        {response_id: row.tier.value for response_id, row in cases.items()},
        experiment.seed,
        experiment.outreach_share,
    )
    baselines = _mean_ratings(session, cases)
    assignments = []
    for response_id, row in cases.items():
        case_ = row.Case
        assignment = ExperimentAssignment(
            experiment_id=experiment.id,
            response_id=response_id,
            person_id=case_.person_id,
            account_id=case_.account_id,
            stratum=row.tier.value,
            arm=arms[response_id],
            baseline_score=baselines.get(response_id),
            baseline_value=row.annual_value,
            assigned_at=now,
        )
        assignments.append(assignment)
        case_.experiment_id = experiment.id
        case_.held = assignment.arm == Arm.CONTROL
    session.add_all(assignments)
    held = _hold_the_rest(session, experiment, [a for a in assignments if a.arm == Arm.CONTROL])

    experiment.status = ExperimentStatus.RUNNING
    experiment.started_at = now
    session.flush()
    counts = Counter((a.stratum, a.arm.value) for a in assignments)
    _event(
        session,
        experiment,
        "started",
        user,
        now,
        digest=assignment_digest(_rows(assignments)),
        assigned=len(assignments),
        outreach=sum(1 for a in assignments if a.arm == Arm.OUTREACH),
        control=sum(1 for a in assignments if a.arm == Arm.CONTROL),
        strata={
            stratum: {arm.value: counts[(stratum, arm.value)] for arm in Arm}
            for stratum in sorted({a.stratum for a in assignments})
        },
        held_cases=held,
        seed=experiment.seed,
        outreach_share=experiment.outreach_share,
    )
    session.flush()
    return experiment


def _hold_the_rest(
    session: Session, experiment: Experiment, control: Sequence[ExperimentAssignment]
) -> int:
    """Hold the control people's other untouched cases too (a low score, an alert naming
    them): the control arm hears nothing from us. Returns how many cases are held in all."""
    people = {a.person_id for a in control}
    others = session.scalars(
        select(Case).where(Case.person_id.in_(people), _untouched()).with_for_update()
    ).all()
    for case_ in others:
        case_.experiment_id = experiment.id
        case_.held = True
    return len(control) + len(others)


def _rows(assignments: Iterable[ExperimentAssignment]) -> list[dict[str, Any]]:
    return [
        {
            "response_id": a.response_id,
            "person_id": a.person_id,
            "account_id": a.account_id,
            "stratum": a.stratum,
            "arm": a.arm,
        }
        for a in assignments
    ]


def finish_experiment(
    session: Session,
    experiment: Experiment,
    user: User,
    settings: FollowupSettings,
    now: dt.datetime,
) -> Experiment:
    """End a running experiment: its held cases reach their owners from ``now``; flushes."""
    _require(user)
    experiment = _locked(session, experiment)
    if experiment.status == ExperimentStatus.DRAFT:
        raise Conflict("The experiment has not started: there is nothing to finish.")
    if experiment.status == ExperimentStatus.FINISHED:
        raise Conflict("The experiment has finished already.")
    held = session.scalars(
        select(Case)
        .where(Case.experiment_id == experiment.id, Case.held.is_(True))
        .order_by(Case.id)
    ).all()
    for case_ in held:
        release_held_case(session, case_, settings, now)
    experiment.status = ExperimentStatus.FINISHED
    experiment.finished_at = now
    assignments = _assignments(session, experiment)
    _event(
        session,
        experiment,
        "finished",
        user,
        now,
        released=len(held),
        assigned=len(assignments),
        digest=assignment_digest(_rows(assignments)),
    )
    session.flush()
    return experiment


def release_held_case(
    session: Session, case_: Case, settings: FollowupSettings, now: dt.datetime
) -> Case:
    """A held case reaches its owner: visible from ``now``, its deadlines counted from then."""
    case_.held = False
    case_.opened_at = now
    case_.first_contact_due, case_.resolution_due = due_dates(now, settings)
    session.flush()
    return case_


# Joining while it runs -------------------------------------------------------------------

BLOCK = 10  # arrivals are assigned in seeded blocks of this many places per tier


def arm_for(seed: int, stratum: str, place: int, outreach_share: float) -> Arm:
    """The arm of a tier's ``place``-th arrival (0-based): within each block of ``BLOCK``
    places, ``round(share x BLOCK)`` reach out, in an order shuffled from the seed, the tier
    and the block; so every completed block holds the share exactly."""
    block, index = divmod(place, BLOCK)
    arms = [Arm.OUTREACH] * round(outreach_share * BLOCK)
    arms += [Arm.CONTROL] * (BLOCK - len(arms))
    random.Random(f"{seed}:{stratum}:{block}").shuffle(arms)  # noqa: S311 -- reproducible
    return arms[index]


_RUNNING = (
    select(Experiment.id, Experiment.period_start, Experiment.period_end)
    .where(Experiment.status == ExperimentStatus.RUNNING)
    .order_by(Experiment.id)
)


def enrol(session: Session, cases: Sequence[Case], submitted_at: dt.datetime, now: dt.datetime):
    """Put the cases a response has just opened into the running experiment they belong to.

    A person already assigned in a running experiment keeps their arm: their new cases join
    it (held in the control arm, so the control arm still hears nothing from us). Otherwise a
    new detractor case of a response submitted in a running experiment's period is assigned
    the next place of its tier (``arm_for``), unless the person has another live case someone
    acted on (not a clean control). Flushes.
    """
    person_ids = {case_.person_id for case_ in cases if case_.person_id is not None}
    running = session.execute(_RUNNING).all()
    if not person_ids or not running:
        return  # the usual case: one query, on the submission's path
    (person_id,) = person_ids
    assigned = session.execute(
        select(ExperimentAssignment.experiment_id, ExperimentAssignment.arm)
        .join(Experiment, Experiment.id == ExperimentAssignment.experiment_id)
        .where(
            ExperimentAssignment.person_id == person_id,
            Experiment.status == ExperimentStatus.RUNNING,
        )
        .order_by(ExperimentAssignment.id)
        .limit(1)
    ).first()
    if assigned is not None:
        _join(cases, assigned.experiment_id, assigned.arm)
        session.flush()
        return
    detractor = next((c for c in cases if c.reason == CaseReason.DETRACTOR), None)
    if detractor is None:
        return
    day = submitted_at.date()
    covering = [row.id for row in running if row.period_start <= day <= row.period_end]
    if not covering or _acted_on(session, person_id, cases):
        return
    # Locked: one arrival at a time takes a tier's places.
    experiment = _locked(session, session.get(Experiment, covering[0]))
    account = session.get(Account, detractor.account_id)
    stratum = account.tier.value
    place = session.scalar(
        select(func.count()).where(
            ExperimentAssignment.experiment_id == experiment.id,
            ExperimentAssignment.stratum == stratum,
        )
    )
    arm = arm_for(experiment.seed, stratum, place, experiment.outreach_share)
    assignment = ExperimentAssignment(
        experiment_id=experiment.id,
        response_id=detractor.response_id,
        person_id=person_id,
        account_id=account.id,
        stratum=stratum,
        arm=arm,
        baseline_score=_mean_ratings(session, [detractor.response_id]).get(detractor.response_id),
        baseline_value=account.annual_value,
        assigned_at=now,
    )
    session.add(assignment)
    _join(cases, experiment.id, arm)
    session.flush()
    _event(
        session,
        experiment,
        "assigned",
        None,
        now,
        response_id=assignment.response_id,
        stratum=stratum,
        place=place,
        arm=arm.value,
        digest=assignment_digest(_rows(_assignments(session, experiment))),
    )
    session.flush()


def _join(cases: Sequence[Case], experiment_id: int, arm: Arm) -> None:
    for case_ in cases:
        case_.experiment_id = experiment_id
        case_.held = arm == Arm.CONTROL


def _acted_on(session: Session, person_id: int, cases: Sequence[Case]) -> bool:
    """Whether the person has another live case someone has acted on (or that is held)."""
    return (
        session.scalar(
            select(Case.id)
            .where(
                Case.person_id == person_id,
                Case.id.not_in([case_.id for case_ in cases]),
                Case.status.not_in(ENDED),
                ~_untouched(),
            )
            .limit(1)
        )
        is not None
    )


def refuse_assignment_change(experiment: Experiment) -> NoReturn:
    """Assignments are written once when the experiment starts: any change is refused."""
    if experiment.status == ExperimentStatus.DRAFT:
        raise Conflict("The experiment has not started: it has no assignments to change.")
    raise Conflict(
        "Assignments are written once, when the experiment starts, and never changed:"
        " a changed arm would void the comparison."
    )


# Reading -----------------------------------------------------------------------------------


def experiment_query(filters: Mapping[str, Any]) -> Select:
    stmt = select(Experiment)
    if filters.get("status") is not None:
        stmt = stmt.where(Experiment.status == filters["status"])
    return stmt


def list_experiments(
    session: Session,
    user: User,
    filters: Mapping[str, Any],
    sort: Sequence[str] = ("-created_at",),
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[Experiment], int]:
    _require(user)
    stmt = sorted_by(experiment_query(filters), sort, EXPERIMENT_SORTS, Experiment.id.desc())
    return page_of(session, stmt, page, page_size)


def get_experiment(session: Session, user: User, experiment_id: int) -> Experiment:
    _require(user)
    experiment = session.get(Experiment, experiment_id)
    if experiment is None:
        raise NotFound("No such experiment.")
    return experiment


def get_assignment(
    session: Session, experiment: Experiment, assignment_id: int
) -> ExperimentAssignment:
    assignment = session.scalar(
        select(ExperimentAssignment).where(
            ExperimentAssignment.id == assignment_id,
            ExperimentAssignment.experiment_id == experiment.id,
        )
    )
    if assignment is None:
        raise NotFound("No such assignment in this experiment.")
    return assignment


def list_assignments(
    session: Session, experiment: Experiment, filters: Mapping[str, Any], page: int, size: int
) -> tuple[list[ExperimentAssignment], int]:
    stmt = select(ExperimentAssignment).where(ExperimentAssignment.experiment_id == experiment.id)
    for name in ("arm", "stratum", "account_id"):
        if filters.get(name) is not None:
            stmt = stmt.where(getattr(ExperimentAssignment, name) == filters[name])
    return page_of(session, stmt.order_by(ExperimentAssignment.id), page, size)


def events_of(session: Session, experiment: Experiment) -> list[ExperimentEvent]:
    return list(
        session.scalars(
            select(ExperimentEvent)
            .where(ExperimentEvent.experiment_id == experiment.id)
            .order_by(ExperimentEvent.occurred_at, ExperimentEvent.id)
        )
    )


def assignment_counts(session: Session, experiment: Experiment) -> list[dict[str, Any]]:
    """Per stratum: how many were assigned to each arm (strata in tier order)."""
    rows = session.execute(
        select(ExperimentAssignment.stratum, ExperimentAssignment.arm, func.count())
        .where(ExperimentAssignment.experiment_id == experiment.id)
        .group_by(ExperimentAssignment.stratum, ExperimentAssignment.arm)
    ).all()
    table: dict[str, dict[str, int]] = defaultdict(lambda: {arm.value: 0 for arm in Arm})
    for stratum, arm, count in rows:
        table[stratum][Arm(arm).value] = count
    order = {tier: index for index, tier in enumerate(("strategic", "key", "standard"))}
    return [
        {"stratum": stratum, **counts, "total": sum(counts.values())}
        for stratum, counts in sorted(table.items(), key=lambda item: order.get(item[0], 99))
    ]


def audit(session: Session, experiment: Experiment) -> dict[str, Any]:
    """The digest recorded with the latest assignment (at start, at each later arrival, at
    the finish), the digest of the rows now, and whether they agree."""
    recorded = None
    for event in events_of(session, experiment):
        recorded = event.detail.get("digest", recorded)
    if recorded is None:
        return {"recorded": None, "current": None, "intact": None}
    current = assignment_digest(_rows(_assignments(session, experiment)))
    return {"recorded": recorded, "current": current, "intact": recorded == current}


def _assignments(session: Session, experiment: Experiment) -> list[ExperimentAssignment]:
    return session.scalars(
        select(ExperimentAssignment)
        .where(ExperimentAssignment.experiment_id == experiment.id)
        .order_by(ExperimentAssignment.id)
    ).all()


# Outcomes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """One outcome compared between the arms."""

    n_outreach: int
    n_control: int
    mean_outreach: float | None
    mean_control: float | None
    difference: float | None  # outreach - control
    ci_low: float | None
    ci_high: float | None
    df: float | None  # Welch-Satterthwaite degrees of freedom
    p_value: float | None
    status: str  # "ok" or "insufficient" (fewer than MIN_PER_ARM in an arm)


def welch(
    outreach: Sequence[float], control: Sequence[float], confidence: float = CONFIDENCE
) -> Comparison:
    """The difference of means outreach - control with its Welch confidence interval (pure).

    diff +- t(1 - a/2, df) x sqrt(s1^2/n1 + s2^2/n2), df by Welch-Satterthwaite. When neither
    arm varies the interval is the difference itself.
    """
    n1, n2 = len(outreach), len(control)
    m1 = statistics.fmean(outreach) if n1 else None
    m2 = statistics.fmean(control) if n2 else None
    if n1 < MIN_PER_ARM or n2 < MIN_PER_ARM:
        return Comparison(n1, n2, m1, m2, None, None, None, None, None, "insufficient")
    a = statistics.variance(outreach) / n1
    b = statistics.variance(control) / n2
    difference = m1 - m2
    if a + b == 0:
        return Comparison(n1, n2, m1, m2, difference, difference, difference, None, None, "ok")
    df = (a + b) ** 2 / (a**2 / (n1 - 1) + b**2 / (n2 - 1))
    se = math.sqrt(a + b)
    half = float(stats.t.ppf(1 - (1 - confidence) / 2, df)) * se
    p_value = float(2 * stats.t.sf(abs(difference) / se, df))
    return Comparison(
        n1, n2, m1, m2, difference, difference - half, difference + half, df, p_value, "ok"
    )


OUTCOMES = (
    ("score_change", "Score change at the next response", "points (0-100)"),
    ("renewal", "Renewed", "share of accounts"),
    ("value_change", "Change in annual value", "relative to the value when assigned"),
)


def _confidential_waves() -> Select:
    return (
        select(Wave.id)
        .join(Program, Program.id == Wave.program_id)
        .where(Program.confidentiality == Confidentiality.CONFIDENTIAL)
    )


def _next_scores(session: Session, assignments: Sequence[ExperimentAssignment]) -> dict[int, float]:
    """Assignment id -> the respondent's mean rating at their first later response (about
    the same account, in an identified program)."""
    if not assignments:
        return {}
    baseline_at = dict(
        session.execute(
            select(Response.id, Response.submitted_at).where(
                Response.id.in_([a.response_id for a in assignments])
            )
        ).all()
    )
    people = {a.person_id for a in assignments}
    later = session.execute(
        select(Response.id, Response.person_id, Response.account_id, Response.submitted_at)
        .where(
            Response.person_id.in_(people),
            Response.submitted_at > min(baseline_at.values()),
            or_(Response.wave_id.is_(None), Response.wave_id.not_in(_confidential_waves())),
        )
        .order_by(Response.submitted_at, Response.id)
    ).all()
    means = _mean_ratings(session, [row.id for row in later])
    by_person = defaultdict(list)
    for row in later:
        if row.id in means:
            by_person[(row.person_id, row.account_id)].append(row)
    found = {}
    for assignment in assignments:
        since = baseline_at[assignment.response_id]
        following = next(
            (
                row
                for row in by_person[(assignment.person_id, assignment.account_id)]
                if row.submitted_at > since
            ),
            None,
        )
        if following is not None:
            found[assignment.id] = means[following.id]
    return found


def _renewed(account: Any, assigned_on: dt.date, today: dt.date) -> float | None:
    """1 renewed, 0 churned, None not known yet.

    Churned: ended since assignment (and not after its renewal date). Renewed: its renewal
    date has come and it did not end on or before it.
    """
    ended = account.ended_on
    if ended is not None and assigned_on <= ended <= today:
        renewal = account.renewal_date
        return 1.0 if renewal is not None and ended > renewal else 0.0
    renewal = account.renewal_date
    if renewal is not None and renewal <= today and (ended is None or ended > renewal):
        return 1.0
    return None


def outcomes(session: Session, experiment: Experiment, now: dt.datetime) -> dict[str, Any]:
    """Each outcome per arm (n and mean) and the difference outreach - control with its 95%
    confidence interval; "insufficient" where an arm has fewer than two people measured.

    - score_change: the respondent's mean rating (0-100) at their next response about the
      account, in an identified program, minus their mean rating in the detracting response;
    - renewal: 1 when the account's renewal date has come and it had not ended, 0 when it
      ended since assignment; accounts with neither are not counted yet;
    - value_change: (annual value now - annual value when assigned) / the latter, for
      accounts that had a value.
    """
    assignments = list(
        session.scalars(
            select(ExperimentAssignment)
            .where(ExperimentAssignment.experiment_id == experiment.id)
            .order_by(ExperimentAssignment.id)
        )
    )
    today = now.astimezone(dt.UTC).date()
    accounts = {
        row.id: row
        for row in session.execute(
            select(Account.id, Account.annual_value, Account.renewal_date, Account.ended_on).where(
                Account.id.in_({a.account_id for a in assignments})
            )
        )
    }
    next_scores = _next_scores(session, assignments)
    values: dict[str, dict[Arm, list[float]]] = {
        key: {Arm.OUTREACH: [], Arm.CONTROL: []} for key, _, _ in OUTCOMES
    }
    for assignment in assignments:
        arm = Arm(assignment.arm)
        if assignment.id in next_scores and assignment.baseline_score is not None:
            values["score_change"][arm].append(
                next_scores[assignment.id] - assignment.baseline_score
            )
        account = accounts[assignment.account_id]
        renewed = _renewed(account, assignment.assigned_at.astimezone(dt.UTC).date(), today)
        if renewed is not None:
            values["renewal"][arm].append(renewed)
        if assignment.baseline_value and assignment.baseline_value > 0:
            change = (account.annual_value - assignment.baseline_value) / assignment.baseline_value
            values["value_change"][arm].append(float(change))
    return {
        "experiment_id": experiment.id,
        "status": experiment.status.value,
        "final": experiment.status == ExperimentStatus.FINISHED,
        "as_of": today,
        "confidence": CONFIDENCE,
        "assigned": {arm.value: sum(1 for a in assignments if a.arm == arm) for arm in Arm},
        "outcomes": [
            {
                "outcome": key,
                "label": label,
                "unit": unit,
                **asdict(welch(values[key][Arm.OUTREACH], values[key][Arm.CONTROL])),
            }
            for key, label, unit in OUTCOMES
        ],
    }
