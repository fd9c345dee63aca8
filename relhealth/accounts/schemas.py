"""marshmallow schemas: ``XxxSchema`` out, ``XxxArgs`` in."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from relhealth.accounts.models import (
    AccountKind,
    RelationshipKind,
    RelationshipType,
    Side,
    StakeholderRole,
    TeamRole,
    Tier,
)
from relhealth.core.schemas import Choice, Id, ListArgs, Text, validate_seniority

MONEY = validate.Range(min=0, max=999_999_999_999)


class AccountSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    relationship_type = fields.String()
    tier = fields.String()
    annual_value = fields.Decimal(as_string=True)
    lifetime_value = fields.Decimal(as_string=True, allow_none=True)
    renewal_date = fields.Date(allow_none=True)
    started_on = fields.Date(allow_none=True)
    ended_on = fields.Date(allow_none=True)
    owner_id = fields.Integer(allow_none=True)
    crm_id = fields.String(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class AccountArgs(Schema):
    name = Text(200, required=True)
    kind = Choice(AccountKind, required=True)
    relationship_type = Choice(RelationshipType)
    tier = Choice(Tier)
    annual_value = fields.Decimal(validate=MONEY, places=2)
    lifetime_value = fields.Decimal(validate=MONEY, places=2, allow_none=True)
    renewal_date = fields.Date(allow_none=True)
    started_on = fields.Date(allow_none=True)
    owner_id = Id(allow_none=True)
    crm_id = Text(100, allow_none=True)


class AccountListArgs(ListArgs):
    kind = Choice(AccountKind)
    tier = Choice(Tier)
    relationship_type = Choice(RelationshipType)
    owner_id = Id(strict=False, data_key="owner")


class PersonSchema(Schema):
    id = fields.Integer()
    account_id = fields.Integer(allow_none=True)
    side = fields.String()
    first_name = fields.String()
    last_name = fields.String()
    name = fields.String()
    email = fields.String(allow_none=True)
    title = fields.String(allow_none=True)
    department = fields.String(allow_none=True)
    seniority = fields.String()
    roles = fields.List(fields.String())
    active_from = fields.Date(allow_none=True)
    left_on = fields.Date(allow_none=True)
    opted_out = fields.Boolean()
    crm_id = fields.String(allow_none=True)


class PersonArgs(Schema):
    side = Choice(Side, required=True)
    account_id = Id(allow_none=True)
    first_name = Text(100, required=True)
    last_name = Text(100, required=True)
    email = fields.Email(validate=validate.Length(max=254), allow_none=True)
    title = Text(200, allow_none=True)
    department = Text(100, allow_none=True)
    seniority = fields.String(required=True, validate=validate_seniority)
    roles = fields.List(Choice(StakeholderRole))
    active_from = fields.Date(allow_none=True)
    opted_out = fields.Boolean()
    crm_id = Text(100, allow_none=True)

    @validates_schema
    def _roles_once(self, data, **kwargs):
        roles = data.get("roles") or []
        if len(set(roles)) != len(roles):
            raise ValidationError("List each role once.", "roles")


class PersonUpdateArgs(PersonArgs):
    """Side and account are fixed: someone who moves is end-dated and added anew."""

    class Meta:
        exclude = ("side", "account_id")


class PersonListArgs(ListArgs):
    account_id = Id(strict=False, data_key="account")
    side = Choice(Side)
    seniority = fields.String(validate=validate_seniority)
    role = Choice(StakeholderRole)


class RelationshipSchema(Schema):
    id = fields.Integer()
    source_id = fields.Integer()
    target_id = fields.Integer()
    kind = fields.String()
    strength = fields.Integer()
    last_contact_on = fields.Date(allow_none=True)
    ended_on = fields.Date(allow_none=True)


class RelationshipUpdateArgs(Schema):
    strength = fields.Integer(strict=True, validate=validate.Range(min=1, max=5))
    last_contact_on = fields.Date(allow_none=True)


class RelationshipArgs(RelationshipUpdateArgs):
    source_id = Id(required=True)
    target_id = Id(required=True)
    kind = Choice(RelationshipKind, required=True)


class RelationshipListArgs(ListArgs):
    kind = Choice(RelationshipKind)
    person_id = Id(strict=False, data_key="person")
    account_id = Id(strict=False, data_key="account")


class TeamMemberSchema(Schema):
    id = fields.Integer()
    account_id = fields.Integer()
    person_id = fields.Integer()
    person = fields.Nested(PersonSchema, only=("id", "name", "title", "email", "seniority"))
    role = fields.String()
    started_on = fields.Date(allow_none=True)
    ended_on = fields.Date(allow_none=True)


class TeamMemberArgs(Schema):
    person_id = Id(required=True)
    role = Choice(TeamRole, load_default=TeamRole.MEMBER.value)
    started_on = fields.Date(allow_none=True)


class TeamMemberUpdateArgs(Schema):
    role = Choice(TeamRole, required=True)


class TeamListArgs(Schema):
    active = fields.Boolean()


class GraphArgs(Schema):
    format = fields.String(
        load_default="json",
        validate=validate.OneOf(["json", "graphml"]),
        metadata={"description": "json (node-link + metrics) or graphml"},
    )


class StakeholderGraphSchema(Schema):
    account_id = fields.Integer()
    graph = fields.Dict(metadata={"description": "node-link JSON (networkx, Cytoscape, d3)"})
    metrics = fields.Dict(
        metadata={
            "description": "coverage, threading, risks, influence, and heard_from: of each "
            "side's people, those who answered a survey (identified programs) since a date"
        }
    )


class SnapshotSchema(Schema):
    id = fields.Integer()
    account_id = fields.Integer()
    taken_at = fields.DateTime()
    reason = fields.String()
    wave_id = fields.Integer(allow_none=True)
    metrics = fields.Dict()


class SnapshotDetailSchema(SnapshotSchema):
    graph = fields.Dict()


class SnapshotDiffArgs(Schema):
    before = Id(
        strict=False, required=True, data_key="from", metadata={"description": "older snapshot id"}
    )
    after = Id(
        strict=False,
        data_key="to",
        metadata={"description": "newer snapshot id; default: the map today"},
    )


class DiffPersonSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    side = fields.String()


class LinkSchema(Schema):
    source = fields.Integer()
    target = fields.Integer()
    kind = fields.String()


class SnapshotDiffSchema(Schema):
    joined = fields.List(fields.Nested(DiffPersonSchema))
    left = fields.List(fields.Nested(DiffPersonSchema))
    links_added = fields.List(fields.Nested(LinkSchema))
    links_removed = fields.List(fields.Nested(LinkSchema))
    coverage = fields.Dict(metadata={"description": "share before, after and the change"})


PORTFOLIO_SORTS = (
    "coverage",
    "name",
    "annual_value",
    "key_person_risks",
    "uncovered_executives",
    "stale_links",
)


class PortfolioCoverageArgs(Schema):
    kind = Choice(AccountKind)
    tier = Choice(Tier)
    owner_id = Id(strict=False, data_key="owner")
    sort = fields.String(
        load_default="coverage",
        validate=validate.OneOf(PORTFOLIO_SORTS + tuple(f"-{key}" for key in PORTFOLIO_SORTS)),
        metadata={"description": "default: coverage, worst first; '-' for descending"},
    )


class PortfolioCoverageSchema(Schema):
    account_id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    tier = fields.String()
    owner_id = fields.Integer(allow_none=True)
    annual_value = fields.Decimal(as_string=True)
    external_people = fields.Integer()
    covered_people = fields.Integer()
    coverage = fields.Float(allow_none=True, metadata={"description": "share 0..1; null if none"})
    coverage_by_level = fields.Dict(keys=fields.String(), values=fields.Float(allow_none=True))
    threading = fields.String()
    executive_sponsor = fields.Boolean()
    uncovered_executives = fields.Integer()
    key_person_risks = fields.Integer()
    stale_links = fields.Integer()
