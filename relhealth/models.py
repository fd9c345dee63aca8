"""Imports every domain's models so SQLAlchemy and Alembic see the whole schema."""

from relhealth.accounts.models import (  # noqa: F401
    Account,
    AccountTeamMember,
    GraphSnapshot,
    Person,
    PersonRole,
    Relationship,
)
from relhealth.analytics.models import Alert  # noqa: F401
from relhealth.auth.models import AccountAssignment, ApiToken, User  # noqa: F401
from relhealth.cohorts.models import (  # noqa: F401
    Cohort,
    CohortMember,
    ComplementaryCohort,
    Invitation,
    Program,
    Wave,
)
from relhealth.followup.models import (  # noqa: F401
    Case,
    CaseActivity,
    CaseTag,
    Experiment,
    ExperimentAssignment,
    ExperimentEvent,
    Praise,
)
from relhealth.messaging.models import OutboxMessage  # noqa: F401
from relhealth.reports.models import Report, ReportDelivery, ReportSubscription  # noqa: F401
from relhealth.surveys.models import Answer, Question, Response, Survey, SurveyVersion  # noqa: F401
