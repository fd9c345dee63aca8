"""Imports every domain's models so SQLAlchemy and Alembic see the whole schema."""

from relhealth.accounts.models import (  # noqa: F401
    Account,
    AccountTeamMember,
    GraphSnapshot,
    Person,
    PersonRole,
    Relationship,
)
from relhealth.auth.models import AccountAssignment, ApiToken, User  # noqa: F401
