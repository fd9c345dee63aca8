"""The demo's closed loop: two years of follow-up, played in time order through the services.

Every answer of their people arrives at its time and opens its cases (and routes its praise) as
the respondent form does; the alerts' cases come from the history's scheduler ticks. The account
teams then work each case: most are contacted within the SLA, some late, a few never reached;
actions are planned, root causes tagged, most cases resolved and the respondent told, some closed
unresolved; the latest wave's cases are still being worked on. An outreach experiment ran on the
detractors of the wave a year ago and has finished. Deterministic for a seed.
"""

import contextlib
import datetime as dt
import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from relhealth.accounts.models import Side
from relhealth.auth.models import Role, User
from relhealth.core.errors import Conflict
from relhealth.followup import experiments, service
from relhealth.followup.models import ActivityKind, Case, CaseReason, CaseStatus, Praise
from relhealth.followup.praise import route_praise
from relhealth.followup.rules import FollowupSettings
from relhealth.messaging.models import MessageStatus, OutboxMessage
from relhealth.surveys.models import Response

# What the account teams did, by root cause: (call note, plan, resolution, message to them).
WORK = {
    "support_responsiveness": (
        "Called them: two priority tickets waited four days for a first answer.",
        "Named support lead for the account; weekly ticket review for a quarter.",
        "Tickets now answered within a day; the backlog is cleared.",
        "You told us our support kept you waiting. We gave your team a named support lead and"
        " review your open tickets with you every week.",
    ),
    "communication": (
        "Met them: they learn about changes from release notes, not from us.",
        "Monthly update call with their operations lead; changes announced two weeks ahead.",
        "First two monthly calls held; they said they finally feel informed.",
        "You told us you heard about changes too late. From now on your operations lead gets a"
        " monthly call with us and two weeks' notice of every change.",
    ),
    "pricing_value": (
        "Called them: the renewal quote surprised them, 18% over last year.",
        "Value review with their finance team; usage-based option prepared.",
        "Renewal agreed on the usage-based option; they see where the money goes.",
        "You told us our pricing was hard to follow. We reviewed what you use with your finance"
        " team and moved you to a plan based on it.",
    ),
    "account_management": (
        "Met them: third account manager in a year, they repeat themselves.",
        "Account team fixed for two years; handover notes kept in one place.",
        "Team confirmed; the sponsor met the new lead and approved the plan.",
        "You told us you kept meeting new faces. Your account team now stays with you, and"
        " everything you told us is kept in one place.",
    ),
    "product_quality": (
        "Called them: the reporting module failed twice in their month-end close.",
        "Fix scheduled for the next release; a workaround documented meanwhile.",
        "The fix shipped; month-end ran without incident.",
        "You told us reporting let you down at month-end. The fix is live and we will watch"
        " your next close with you.",
    ),
    "onboarding": (
        "Met them: the new site went live without the training they expected.",
        "Two on-site training days booked for the new site's team.",
        "Training held; the site's team uses the tool daily now.",
        "You told us your new site was left without training. We held two training days there"
        " and will check in after a month.",
    ),
    "strategic_fit": (
        "Met their sponsor: our roadmap misses their move to self-service.",
        "Roadmap session with our product lead; self-service pilot proposed.",
        "Pilot agreed for next quarter.",
        "You told us we were not following where you are heading. Our product lead met your"
        " team and we are piloting self-service with you next quarter.",
    ),
}
ALERT_WORK = (
    "Discussed the alert with the account team; we will meet their sponsor.",
    "Account plan updated: executive sponsor meeting and a coverage plan for the gaps.",
    "Sponsor meeting held; the new plan is agreed with them.",
)
UNRESOLVED = "They did not want to take it further; noted for the next account review."
UNREACHABLE = "Could not reach them after three attempts; raised at the next account review."


@dataclass(frozen=True)
class _Pace:
    """How one case is worked: hours to first contact, then days to plan and to end it."""

    contact_hours: float | None  # None: they could not be reached
    plan_days: float
    end_days: float
    resolved: bool
    tell: bool


RECENT = dt.timedelta(days=60)  # cases this young are still being worked on at the demo's now


def _pace(rng: random.Random, recent: bool) -> _Pace:
    draw = rng.random()
    if recent and draw < 0.2:
        contact = None  # not reached yet
    elif draw < 0.72:
        contact = rng.uniform(2, 40)  # within the 48-hour SLA
    elif draw < 0.94:
        contact = rng.uniform(50, 120)  # late
    else:
        contact = None
    slow = 0.5 if recent else 0.2
    return _Pace(
        contact_hours=contact,
        plan_days=rng.uniform(20, 70 if recent else 50)
        if rng.random() < slow
        else rng.uniform(1, 5),
        end_days=rng.uniform(15, 40) if rng.random() < slow else rng.uniform(3, 9),
        resolved=rng.random() < 0.9,
        tell=rng.random() < 0.75,
    )


@dataclass
class _Demo:
    """The simulation: a clock-ordered queue of what happens, played up to ``now``."""

    session: Session
    settings: FollowupSettings
    rng: random.Random
    now: dt.datetime
    admin: User
    queue: list = field(default_factory=list)
    paces: dict[int, tuple[_Pace, str]] = field(default_factory=dict)
    counter: itertools.count = field(default_factory=itertools.count)

    def at(self, when: dt.datetime, action: Callable[[dt.datetime], None]) -> None:
        heapq.heappush(self.queue, (when, next(self.counter), action))

    def run(self) -> None:
        while self.queue and self.queue[0][0] <= self.now:
            when, _, action = heapq.heappop(self.queue)
            action(when)

    def respond(self, response_id: int) -> Callable[[dt.datetime], None]:
        def arrive(when: dt.datetime) -> None:
            for case in service.open_cases_for_response(
                self.session, response_id, self.settings, when
            ):
                self.follow(case, when)
            route_praise(self.session, response_id, self.settings, when)

        return arrive

    def follow(self, case: Case, when: dt.datetime) -> None:
        """Plan the work on a case that reached its owner at ``when``."""
        if case.held:
            return  # an experiment's control arm: worked once released
        recent = self.now - when < RECENT
        pace = _pace(self.rng, recent)
        self.paces[case.id] = (pace, self.rng.choice(sorted(WORK)))
        if pace.contact_hours is None and not recent:
            self.at(when + dt.timedelta(days=30), self.step(case.id, "unreachable"))
        elif pace.contact_hours is None:
            return  # waiting for a first contact
        else:
            self.at(when + dt.timedelta(hours=pace.contact_hours), self.step(case.id, "contact"))

    def step(self, case_id: int, stage: str) -> Callable[[dt.datetime], None]:
        return lambda when: self._step(case_id, stage, when)

    def _step(self, case_id: int, stage: str, when: dt.datetime) -> None:
        case = self.session.get(Case, case_id)
        if case.ended and stage != "tell":
            return
        pace, cause = self.paces[case_id]
        call, plan, resolution, message = WORK[cause]
        if case.reason == CaseReason.ALERT:
            call, plan, resolution = ALERT_WORK
        user = (self.session.get(User, case.owner_id) if case.owner_id else None) or self.admin
        if stage == "unreachable":
            service.transition(
                self.session, case, CaseStatus.CLOSED_UNRESOLVED, user, when, UNREACHABLE
            )
        elif stage == "contact":
            if case.person_id is not None:
                service.log_activity(self.session, case, ActivityKind.CALL, call, user, when, when)
            else:
                service.transition(self.session, case, CaseStatus.CONTACTED, user, when, note=call)
            self.at(when + dt.timedelta(days=pace.plan_days), self.step(case_id, "plan"))
        elif stage == "plan":
            service.transition(self.session, case, CaseStatus.ACTION_PLANNED, user, when, note=plan)
            if case.reason != CaseReason.ALERT:
                service.set_tags(self.session, case, [cause], user, when, self.settings)
            self.at(when + dt.timedelta(days=pace.end_days), self.step(case_id, "end"))
        elif stage == "end" and not pace.resolved:
            service.transition(
                self.session, case, CaseStatus.CLOSED_UNRESOLVED, user, when, UNRESOLVED
            )
        elif stage == "end":
            service.transition(
                self.session, case, CaseStatus.RESOLVED, user, when, resolution=resolution
            )
            if pace.tell and case.person_id is not None:
                self.at(when + dt.timedelta(hours=6), self.step(case_id, "tell"))
        elif stage == "tell":
            # Not when they have no e-mail address or asked not to be written to.
            with contextlib.suppress(Conflict):
                service.tell_respondent(self.session, case, message, user, when)


def seed_followup(session: Session, today: dt.date, seed: int = 7) -> dict[str, int]:
    """Two years of the account teams' follow-up, in time order, and one finished experiment."""
    now = dt.datetime.combine(today, dt.time(8), tzinfo=dt.UTC)
    admin = session.scalars(select(User).where(User.role == Role.ADMIN).order_by(User.id)).first()
    executive = session.scalars(
        select(User).where(User.role == Role.EXECUTIVE).order_by(User.id)
    ).first()
    demo = _Demo(
        session=session,
        settings=FollowupSettings.from_config(current_app.config),
        rng=random.Random(seed * 104729),  # noqa: S311 -- reproducible demo data, not secrets
        now=now,
        admin=admin,
    )
    # The alerts' cases were opened by the scheduler ticks of the history.
    for case in session.scalars(select(Case).order_by(Case.opened_at, Case.id)):
        demo.at(case.opened_at, lambda when, case=case: demo.follow(case, when))
    for response_id, submitted in session.execute(
        select(Response.id, Response.submitted_at)
        .where(Response.side == Side.EXTERNAL)
        .order_by(Response.submitted_at, Response.id)
    ):
        demo.at(submitted, demo.respond(response_id))
    _experiment(demo, executive or admin)
    demo.run()
    # What the demo "sent" in the past is history, not mail waiting to go out.
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == MessageStatus.QUEUED)
        .values(status=MessageStatus.SENT, sent_at=OutboxMessage.created_at)
    )
    session.commit()
    cases = session.scalar(select(func.count()).select_from(Case))
    praise = session.scalar(select(func.count()).select_from(Praise))
    return {"follow-up cases": cases, "praise": praise, "outreach experiments": 1}


def _experiment(demo: _Demo, user: User) -> None:
    """Outreach within 48 hours tried on the detractors of the wave a year ago."""
    year_ago = demo.now - dt.timedelta(days=365)
    opens = dt.datetime(year_ago.year, 3 * ((year_ago.month - 1) // 3) + 1, 1, tzinfo=dt.UTC)
    period_end = opens.date() + dt.timedelta(days=24)
    finishes = opens + dt.timedelta(days=70)
    experiment = None

    def start(when: dt.datetime) -> None:
        nonlocal experiment
        quarter = (opens.month - 1) // 3 + 1
        experiment = experiments.create_experiment(
            demo.session,
            user,
            {
                "name": f"Outreach within 48 hours, Q{quarter} {opens.year}",
                "hypothesis": "Detractors we call within two days rate us higher at the next wave.",
                "period_start": opens.date(),
                "period_end": period_end,
                "seed": 20251001,
                "outreach_share": 0.5,
            },
            when,
        )
        experiments.start_experiment(demo.session, experiment, user, demo.settings, when)

    def finish(when: dt.datetime) -> None:
        held = demo.session.scalars(
            select(Case).where(Case.experiment_id == experiment.id, Case.held.is_(True))
        ).all()
        experiments.finish_experiment(demo.session, experiment, user, demo.settings, when)
        for case in held:
            demo.follow(case, when)

    demo.at(opens - dt.timedelta(days=1), start)
    demo.at(finishes, finish)
