"""marshmallow schemas of the analytics API: ``XxxArgs`` in, ``XxxSchema`` out.

Every figure travels with its ``n`` and ``status``; a figure that is not "ok" (insufficient
signal, or suppressed in a confidential program) is null, and a suppressed group's n is null
too. NaN never reaches JSON: the API turns it into null before these schemas see it.
"""

from marshmallow import Schema, fields, validate

from relhealth.accounts.models import AccountKind, Tier
from relhealth.core.schemas import Choice, Id

FORMATS = ("json", "csv")
TREND_BREAKDOWNS = ("side", "seniority", "dimension")
GAP_TABLES = ("gaps", "top_vs_line")
PANEL_TABLES = ("change", "migration", "drop_outs")
SUMMARY_SORTS = (
    "health",
    "value_at_risk",
    "nps",
    "name",
    "annual_value",
    "respondents",
)


def Format() -> fields.String:
    return fields.String(
        load_default="json",
        validate=validate.OneOf(FORMATS),
        metadata={"description": "json (default) or csv; `Accept: text/csv` works too"},
    )


def Table(tables: tuple[str, ...]) -> fields.String:
    return fields.String(
        load_default=tables[0],
        validate=validate.OneOf(tables),
        metadata={"description": f"which table the CSV holds: {', '.join(tables)}"},
    )


class TrendArgs(Schema):
    by = fields.String(
        validate=validate.OneOf(TREND_BREAKDOWNS),
        metadata={"description": "a series per side, seniority or dimension; default: one"},
    )
    program_id = Id(strict=False, data_key="program", metadata={"description": "one program"})
    format = Format()


class GapArgs(Schema):
    wave_id = Id(
        strict=False,
        data_key="wave_id",
        metadata={"description": "the quarter of this wave; default: the latest with answers"},
    )
    format = Format()
    table = Table(GAP_TABLES)


class PanelArgs(Schema):
    program_id = Id(strict=False, data_key="program", metadata={"description": "one program"})
    format = Format()
    table = Table(PANEL_TABLES)


class PortfolioSummaryArgs(Schema):
    kind = Choice(AccountKind)
    tier = Choice(Tier)
    owner_id = Id(strict=False, data_key="owner")
    sort = fields.String(
        load_default="health",
        validate=validate.OneOf(SUMMARY_SORTS + tuple(f"-{key}" for key in SUMMARY_SORTS)),
        metadata={
            "description": "health (default: worst first), value_at_risk, nps, name, "
            "annual_value, respondents; '-' for descending"
        },
    )
    format = Format()


class PortfolioTrendArgs(Schema):
    by = fields.String(
        validate=validate.OneOf(TREND_BREAKDOWNS),
        metadata={"description": "a series per side, seniority or dimension; default: one"},
    )
    kind = Choice(AccountKind)
    tier = Choice(Tier)
    owner_id = Id(strict=False, data_key="owner")
    format = Format()


class TrendPointSchema(Schema):
    """One wave of one series; figures null unless status is "ok", n null if suppressed."""

    side = fields.String(allow_none=True)
    seniority = fields.String(allow_none=True)
    dimension = fields.String(allow_none=True)
    wave = fields.String(metadata={"description": "wave-<id>, or the quarter of history"})
    wave_id = fields.Integer(allow_none=True, metadata={"description": "null: imported history"})
    wave_at = fields.DateTime(metadata={"description": "when the wave opened"})
    n = fields.Integer(allow_none=True, metadata={"description": "answers; null if suppressed"})
    respondents = fields.Integer(allow_none=True, metadata={"description": "distinct people"})
    mean = fields.Float(allow_none=True, metadata={"description": "0-100"})
    ci_low = fields.Float(allow_none=True, metadata={"description": "95% CI (t-based)"})
    ci_high = fields.Float(allow_none=True)
    nps = fields.Float(allow_none=True, metadata={"description": "-100..100, nps answers only"})
    nps_n = fields.Integer(allow_none=True)
    change = fields.Float(allow_none=True, metadata={"description": "mean minus previous wave's"})
    nps_change = fields.Float(allow_none=True)
    p_value = fields.Float(allow_none=True, metadata={"description": "Welch's t-test"})
    significant = fields.Boolean(allow_none=True, metadata={"description": "p < alpha"})
    status = fields.String(metadata={"description": "ok, insufficient or suppressed"})


class TrendsSchema(Schema):
    account_id = fields.Integer()
    by = fields.String(allow_none=True)
    series = fields.List(fields.Nested(TrendPointSchema))


class PortfolioTrendsSchema(Schema):
    by = fields.String(allow_none=True)
    series = fields.List(
        fields.Nested(TrendPointSchema),
        metadata={"description": "one point per quarter: wave is 2026Q1, wave_id null"},
    )


class GapSchema(Schema):
    dimension = fields.String()
    internal = fields.Float(allow_none=True, metadata={"description": "our people's score"})
    external = fields.Float(allow_none=True, metadata={"description": "their people's score"})
    gap = fields.Float(allow_none=True, metadata={"description": "internal - external"})
    n_internal = fields.Integer(allow_none=True)
    n_external = fields.Integer(allow_none=True)
    respondents_internal = fields.Integer(allow_none=True)
    respondents_external = fields.Integer(allow_none=True)
    gap_class = fields.String(allow_none=True)
    quadrant = fields.String(allow_none=True)
    status = fields.String()


class TopVsLineSchema(Schema):
    side = fields.String()
    top = fields.Float(allow_none=True, metadata={"description": "executives' mean"})
    line = fields.Float(allow_none=True, metadata={"description": "everyone else's mean"})
    gap = fields.Float(allow_none=True, metadata={"description": "top - line"})
    n_top = fields.Integer(allow_none=True)
    n_line = fields.Integer(allow_none=True)
    respondents_top = fields.Integer(allow_none=True)
    respondents_line = fields.Integer(allow_none=True)
    status = fields.String()


class GapsSchema(Schema):
    account_id = fields.Integer()
    period = fields.String(
        allow_none=True,
        metadata={"description": "the calendar quarter compared, e.g. 2026Q4; null: no answers"},
    )
    wave = fields.String(allow_none=True, metadata={"description": "the period's label"})
    wave_id = fields.Integer(allow_none=True, metadata={"description": "the period's latest wave"})
    wave_ids = fields.List(fields.Integer(), metadata={"description": "every wave in the period"})
    wave_at = fields.DateTime(allow_none=True)
    gaps = fields.List(fields.Nested(GapSchema))
    top_vs_line = fields.List(fields.Nested(TopVsLineSchema))


class PanelChangeSchema(Schema):
    program_id = fields.Integer(allow_none=True, metadata={"description": "null: history"})
    wave_before = fields.String()
    wave_after = fields.String()
    wave_at_before = fields.DateTime()
    wave_at_after = fields.DateTime()
    n = fields.Integer(allow_none=True, metadata={"description": "people in both waves"})
    mean_before = fields.Float(allow_none=True)
    mean_after = fields.Float(allow_none=True)
    change = fields.Float(allow_none=True, metadata={"description": "mean within-person change"})
    ci_low = fields.Float(allow_none=True)
    ci_high = fields.Float(allow_none=True)
    p_value = fields.Float(allow_none=True, metadata={"description": "paired t-test"})
    significant = fields.Boolean(allow_none=True)
    status = fields.String()


class MigrationSchema(Schema):
    program_id = fields.Integer(allow_none=True)
    wave_before = fields.String()
    wave_after = fields.String()
    before = fields.String(metadata={"description": "NPS category in the earlier wave"})
    after = fields.String()
    people = fields.Integer(allow_none=True)
    status = fields.String()


class DropOutSchema(Schema):
    program_id = fields.Integer()
    wave_id = fields.Integer()
    wave_at = fields.DateTime()
    previous_wave_id = fields.Integer()
    person_id = fields.Integer(allow_none=True, metadata={"description": "identified only"})
    name = fields.String(allow_none=True, metadata={"description": "identified only"})
    side = fields.String(allow_none=True)
    seniority = fields.String(allow_none=True)
    people = fields.Integer(metadata={"description": "1 per named person, or the number"})
    status = fields.String()


class PanelSchema(Schema):
    account_id = fields.Integer()
    change = fields.List(fields.Nested(PanelChangeSchema))
    migration = fields.List(fields.Nested(MigrationSchema))
    drop_outs = fields.List(fields.Nested(DropOutSchema))


class PortfolioRowSchema(Schema):
    account_id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    tier = fields.String()
    owner_id = fields.Integer(allow_none=True)
    annual_value = fields.Float()
    wave_id = fields.Integer(allow_none=True, metadata={"description": "the latest wave"})
    wave_at = fields.DateTime(allow_none=True)
    health = fields.Float(allow_none=True, metadata={"description": "health index 0-100"})
    respondents = fields.Integer(allow_none=True)
    health_status = fields.String()
    nps = fields.Float(allow_none=True)
    nps_n = fields.Integer(allow_none=True)
    detractor_share = fields.Float(allow_none=True, metadata={"description": "0..1"})
    value_at_risk = fields.Float(allow_none=True, metadata={"description": "see the README"})
    value_at_risk_status = fields.String()
    health_rank = fields.Integer(allow_none=True, metadata={"description": "1 = least healthy"})
    value_at_risk_rank = fields.Integer(allow_none=True, metadata={"description": "1 = most"})
