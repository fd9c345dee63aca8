"""Accounts, the people on both sides of them, their relationships and account teams."""

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from relhealth.db import JSONDocument, TimestampMixin, int_pk, money, str_enum, utcnow
from relhealth.extensions import db


class AccountKind(enum.StrEnum):
    CUSTOMER = "customer"
    PARTNER = "partner"


class RelationshipType(enum.StrEnum):
    TRANSACTIONAL = "transactional"
    REGULAR = "regular"
    RELATIONSHIP = "relationship"


class Tier(enum.StrEnum):
    STRATEGIC = "strategic"
    KEY = "key"
    STANDARD = "standard"


class Side(enum.StrEnum):
    EXTERNAL = "external"
    INTERNAL = "internal"


class StakeholderRole(enum.StrEnum):
    DECISION_MAKER = "decision_maker"
    ECONOMIC_BUYER = "economic_buyer"
    CHAMPION = "champion"
    INFLUENCER = "influencer"
    USER = "user"
    BLOCKER = "blocker"


class RelationshipKind(enum.StrEnum):
    REPORTS_TO = "reports_to"
    WORKS_WITH = "works_with"
    COVERS = "covers"
    SPONSORS = "sponsors"


class TeamRole(enum.StrEnum):
    OWNER = "owner"
    EXECUTIVE_SPONSOR = "executive_sponsor"
    MEMBER = "member"


def is_active(ended_on: dt.date | None, today: dt.date) -> bool:
    """A dated record is active until (and not including) its end date."""
    return ended_on is None or ended_on > today


class Account(TimestampMixin, db.Model):
    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint("annual_value >= 0", name="annual_value_not_negative"),
        CheckConstraint(
            "lifetime_value IS NULL OR lifetime_value >= 0", name="lifetime_value_not_negative"
        ),
    )

    id: Mapped[int_pk]
    name: Mapped[str] = mapped_column(unique=True, comment="the account's display name")
    kind: Mapped[AccountKind] = mapped_column(str_enum(AccountKind, "kind"))
    relationship_type: Mapped[RelationshipType] = mapped_column(
        str_enum(RelationshipType, "relationship_type"), default=RelationshipType.REGULAR
    )
    tier: Mapped[Tier] = mapped_column(str_enum(Tier, "tier"), default=Tier.STANDARD)
    annual_value: Mapped[money] = mapped_column(default=Decimal(0), comment="yearly revenue")
    lifetime_value: Mapped[money | None] = mapped_column(comment="expected lifetime value")
    renewal_date: Mapped[dt.date | None]
    started_on: Mapped[dt.date | None] = mapped_column(comment="when the relationship began")
    ended_on: Mapped[dt.date | None] = mapped_column(comment="churned or ended; kept for history")
    owner_id: Mapped[int | None] = mapped_column(
        # use_alter: accounts -> users -> people -> accounts is a cycle of foreign keys.
        ForeignKey("users.id", ondelete="SET NULL", use_alter=True),
        index=True,
    )
    crm_id: Mapped[str | None] = mapped_column(String(100), unique=True)

    owner: Mapped["User | None"] = relationship(foreign_keys=[owner_id])  # noqa: F821
    people: Mapped[list["Person"]] = relationship(back_populates="account")
    team: Mapped[list["AccountTeamMember"]] = relationship(back_populates="account")

    def __repr__(self) -> str:
        return f"<Account {self.id} {self.name!r}>"


class Person(TimestampMixin, db.Model):
    """A stakeholder: one of theirs (``external``, on an account) or one of ours (``internal``)."""

    __tablename__ = "people"
    __table_args__ = (
        CheckConstraint(
            "(side = 'external' AND account_id IS NOT NULL)"
            " OR (side = 'internal' AND account_id IS NULL)",
            name="external_people_have_an_account",
        ),
        CheckConstraint(
            "left_on IS NULL OR active_from IS NULL OR left_on >= active_from",
            name="left_after_joining",
        ),
        Index("ix_people_account_id_seniority", "account_id", "seniority"),
    )

    id: Mapped[int_pk]
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="RESTRICT"))
    side: Mapped[Side] = mapped_column(str_enum(Side, "side"))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254), unique=True, comment="lower-cased")
    title: Mapped[str | None]
    department: Mapped[str | None] = mapped_column(String(100))
    seniority: Mapped[str] = mapped_column(
        String(50), comment="a level of the configured seniority ladder"
    )
    active_from: Mapped[dt.date | None]
    left_on: Mapped[dt.date | None] = mapped_column(comment="left the company; kept for history")
    opted_out: Mapped[bool] = mapped_column(default=False, comment="asked not to be surveyed")
    crm_id: Mapped[str | None] = mapped_column(String(100), unique=True)

    account: Mapped[Account | None] = relationship(back_populates="people")
    role_rows: Mapped[list["PersonRole"]] = relationship(
        cascade="all, delete-orphan", order_by="PersonRole.role", lazy="selectin"
    )

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def roles(self) -> list[str]:
        return [row.role.value for row in self.role_rows]

    @roles.setter
    def roles(self, values: list[str]) -> None:
        wanted = {StakeholderRole(value) for value in values}
        self.role_rows = [row for row in self.role_rows if row.role in wanted]
        have = {row.role for row in self.role_rows}
        self.role_rows.extend(PersonRole(role=role) for role in sorted(wanted - have))

    def __repr__(self) -> str:
        return f"<Person {self.id} {self.name!r} {self.side}>"


class PersonRole(db.Model):
    __tablename__ = "person_roles"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[StakeholderRole] = mapped_column(
        str_enum(StakeholderRole, "role"), primary_key=True
    )


class Relationship(TimestampMixin, db.Model):
    """A directed edge between two people, e.g. one of ours ``covers`` one of theirs."""

    __tablename__ = "relationships"
    __table_args__ = (
        UniqueConstraint("source_id", "target_id", "kind"),
        CheckConstraint("source_id <> target_id", name="no_self_edge"),
        CheckConstraint("strength BETWEEN 1 AND 5", name="strength_1_to_5"),
    )

    id: Mapped[int_pk]
    source_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="RESTRICT"))
    target_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[RelationshipKind] = mapped_column(str_enum(RelationshipKind, "kind"))
    strength: Mapped[int] = mapped_column(default=3, comment="1 (weak) to 5 (strong)")
    last_contact_on: Mapped[dt.date | None]
    ended_on: Mapped[dt.date | None]

    source: Mapped[Person] = relationship(foreign_keys=[source_id])
    target: Mapped[Person] = relationship(foreign_keys=[target_id])

    def __repr__(self) -> str:
        return f"<Relationship {self.source_id} {self.kind} {self.target_id}>"


class AccountTeamMember(TimestampMixin, db.Model):
    """One of our people on an account's team: owner, executive sponsor or member."""

    __tablename__ = "account_team_members"
    __table_args__ = (UniqueConstraint("account_id", "person_id"),)

    id: Mapped[int_pk]
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="RESTRICT"), index=True)
    role: Mapped[TeamRole] = mapped_column(str_enum(TeamRole, "team_role"))
    started_on: Mapped[dt.date | None]
    ended_on: Mapped[dt.date | None]

    account: Mapped[Account] = relationship(back_populates="team")
    person: Mapped[Person] = relationship()


class SnapshotReason(enum.StrEnum):
    WAVE = "wave"
    MANUAL = "manual"


class GraphSnapshot(db.Model):
    """An account's stakeholder graph frozen at a moment, to compare maps over time."""

    __tablename__ = "graph_snapshots"
    __table_args__ = (Index("ix_graph_snapshots_account_id_taken_at", "account_id", "taken_at"),)

    id: Mapped[int_pk]
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    taken_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    reason: Mapped[SnapshotReason] = mapped_column(str_enum(SnapshotReason, "reason"))
    wave_id: Mapped[int | None] = mapped_column(comment="the survey wave that opened, if any")
    graph: Mapped[dict] = mapped_column(JSONDocument, comment="node-link JSON of the graph")
    metrics: Mapped[dict] = mapped_column(JSONDocument, comment="coverage and risk figures")

    account: Mapped[Account] = relationship()
