"""factory_boy factories for the models, a small API caller and a database snapshot for tests."""

import datetime as dt
from decimal import Decimal

import factory
from factory.alchemy import SQLAlchemyModelFactory
from sqlalchemy import select

from relhealth.accounts.models import (
    Account,
    AccountKind,
    AccountTeamMember,
    Person,
    PersonRole,
    Relationship,
    RelationshipKind,
    Side,
    TeamRole,
    Tier,
)
from relhealth.auth.models import AccountAssignment, Role, User
from relhealth.auth.service import hash_password, issue_token
from relhealth.cohorts.models import (
    Cohort,
    CohortMode,
    Invitation,
    InvitationStatus,
    Program,
    Wave,
    WaveStatus,
)
from relhealth.core.tokens import digest, new_token
from relhealth.db import utcnow
from relhealth.extensions import db
from relhealth.surveys.builtin import install_builtin_surveys
from relhealth.surveys.models import Survey, SurveyVersion

PASSWORD = "correct horse battery"
PASSWORD_HASH = hash_password(PASSWORD)  # hashing is slow on purpose: do it once


class Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731 -- swapped per test
        sqlalchemy_session_persistence = "flush"


class UserFactory(Base):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@relhealth.test")
    name = factory.Sequence(lambda n: f"User {n}")
    role = Role.ACCOUNT_MANAGER
    password_hash = factory.LazyFunction(lambda: PASSWORD_HASH)


class AccountFactory(Base):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Account {n}")
    kind = AccountKind.CUSTOMER
    tier = Tier.KEY
    annual_value = Decimal("100000.00")


class PersonFactory(Base):
    """One of theirs."""

    class Meta:
        model = Person

    account = factory.SubFactory(AccountFactory)
    side = Side.EXTERNAL
    first_name = factory.Sequence(lambda n: f"Ada{n}")
    last_name = factory.Sequence(lambda n: f"Lovelace{n}")
    email = factory.Sequence(lambda n: f"person{n}@customer.test")
    title = "Engineer"
    seniority = "staff"


class StaffFactory(PersonFactory):
    """One of ours."""

    account = None
    side = Side.INTERNAL
    email = factory.Sequence(lambda n: f"staff{n}@relhealth.test")


class RelationshipFactory(Base):
    class Meta:
        model = Relationship

    source = factory.SubFactory(StaffFactory)
    target = factory.SubFactory(PersonFactory)
    kind = RelationshipKind.COVERS
    strength = 3


class TeamMemberFactory(Base):
    class Meta:
        model = AccountTeamMember

    account = factory.SubFactory(AccountFactory)
    person = factory.SubFactory(StaffFactory)
    role = TeamRole.MEMBER
    started_on = dt.date(2026, 1, 1)


class AssignmentFactory(Base):
    """An account given to a user to read."""

    class Meta:
        model = AccountAssignment

    user = factory.SubFactory(UserFactory, role=Role.VIEWER)
    account_id = factory.LazyFunction(lambda: AccountFactory().id)


def builtin_survey(key: str = "relationship-health") -> Survey:
    """A shipped survey template (installed on first use)."""
    install_builtin_surveys(db.session)
    return db.session.scalars(select(Survey).where(Survey.key == key)).one()


def frozen_latest_version(survey_id: int) -> int:
    """The id of the survey's latest version, frozen as the tick freezes it when a wave opens."""
    version = db.session.scalars(
        select(SurveyVersion)
        .where(SurveyVersion.survey_id == survey_id)
        .order_by(SurveyVersion.number.desc())
        .limit(1)
    ).one()
    version.frozen_at = version.frozen_at or utcnow()
    return version.id


class CohortFactory(Base):
    class Meta:
        model = Cohort

    name = factory.Sequence(lambda n: f"Cohort {n}")
    mode = CohortMode.DYNAMIC
    rule = factory.LazyFunction(dict)


class ProgramFactory(Base):
    """A quarterly program of the Relationship health template."""

    class Meta:
        model = Program

    name = factory.Sequence(lambda n: f"Program {n}")
    survey_id = factory.LazyFunction(lambda: builtin_survey().id)
    cohort = factory.SubFactory(CohortFactory)
    starts_at = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


class WaveFactory(Base):
    """An open wave (open now, for two weeks) with its program's survey version frozen."""

    class Meta:
        model = Wave

    program = factory.SubFactory(ProgramFactory)
    occurrence = factory.Sequence(lambda n: f"2026-Q{n}")
    survey_version_id = factory.LazyAttribute(lambda o: frozen_latest_version(o.program.survey_id))
    opens_at = factory.LazyFunction(lambda: utcnow() - dt.timedelta(days=1))
    closes_at = factory.LazyFunction(lambda: utcnow() + dt.timedelta(days=14))
    status = WaveStatus.OPEN


class InvitationFactory(Base):
    """An invitation with a personal link; ``invitation.token`` is the plain token (tests only).

    Side and seniority are frozen from ``person`` (one of theirs by default); give ``account_id``
    for one of ours.
    """

    class Meta:
        model = Invitation

    class Params:
        person = factory.SubFactory(PersonFactory)

    wave = factory.SubFactory(WaveFactory)
    person_id = factory.LazyAttribute(lambda o: o.person.id)
    account_id = factory.LazyAttribute(lambda o: o.person.account_id)
    side = factory.LazyAttribute(lambda o: o.person.side)
    seniority = factory.LazyAttribute(lambda o: o.person.seniority)
    status = InvitationStatus.INVITED
    token = factory.LazyFunction(lambda: new_token()[0])
    expires_at = factory.LazyAttribute(lambda o: o.wave.closes_at)
    invited_at = factory.LazyAttribute(lambda o: o.wave.opens_at)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        token = kwargs.pop("token")
        if kwargs.get("status") == InvitationStatus.SKIPPED:
            kwargs.setdefault("skip_reason", "opted_out")
        invitation = super()._create(model_class, *args, token_hash=digest(token), **kwargs)
        invitation.token = token
        return invitation


class ApiCaller:
    """Calls the API with a bearer token for a chosen user."""

    def __init__(self, client, user=None):
        self.client = client
        self.user = user
        self._tokens = {}

    def as_(self, user) -> "ApiCaller":
        caller = ApiCaller(self.client, user)
        caller._tokens = self._tokens
        return caller

    def _headers(self):
        if self.user is None:
            return {}
        if self.user.id not in self._tokens:
            _row, plain = issue_token(db.session, self.user, "test")
            self._tokens[self.user.id] = plain
        return {"Authorization": f"Bearer {self._tokens[self.user.id]}"}

    def __getattr__(self, method):
        if method not in ("get", "post", "patch", "put", "delete"):
            raise AttributeError(method)

        def call(url, **kwargs):
            return getattr(self.client, method)(url, headers=self._headers(), **kwargs)

        return call


SNAPSHOT_MODELS = (
    Account,
    Person,
    PersonRole,
    Relationship,
    AccountTeamMember,
    AccountAssignment,
    User,
)


def db_snapshot(session) -> dict[str, list[tuple[str, ...]]]:
    """Every row of the domain tables, read afresh: equal before and after means nothing changed.

    API tokens are left out: every API call records when its token was last used.
    """
    session.expire_all()
    return {
        model.__tablename__: sorted(
            tuple(str(value) for value in row)
            for row in session.execute(select(*model.__table__.columns))
        )
        for model in SNAPSHOT_MODELS
    }
