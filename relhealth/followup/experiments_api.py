"""REST resources: praise of our people, and outreach experiments with their results.

Praise is listed for the accounts you may read. Experiments (their definition, assignments,
audit trail and results) are for admins and executives; everyone else is answered 403.
"""

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from relhealth.accounts.models import Tier
from relhealth.auth.api import api_blueprint, api_user
from relhealth.core.pagination import PAGING, paged
from relhealth.core.schemas import Choice, Id, Text, no_nul, validate_sort
from relhealth.core.schemas import sort_keys as parse_sort
from relhealth.db import utcnow
from relhealth.extensions import db
from relhealth.followup import experiments, praise, service
from relhealth.followup.models import Arm, ExperimentStatus

praise_blp = api_blueprint(
    "praise",
    __name__,
    "/praise",
    "Positive responses that named one of our people; kudos went to them and their manager.",
)
blp = api_blueprint(
    "experiments",
    __name__,
    "/experiments",
    "Outreach experiments: detractors split at random into outreach and control, compared.",
)
blueprints = (praise_blp, blp)

HYPOTHESIS_LENGTH = 5_000


# Praise ----------------------------------------------------------------------------------


class PraiseSchema(Schema):
    id = fields.Integer()
    response_id = fields.Integer()
    account_id = fields.Integer()
    account_name = fields.String()
    employee_id = fields.Integer(metadata={"description": "one of our people"})
    employee_name = fields.String()
    said = fields.String(metadata={"description": "the answer that named them, as written"})
    matched_by = fields.String(metadata={"enum": ["email", "name", "fuzzy"]})
    score = fields.Float(allow_none=True, metadata={"description": "the response's NPS"})
    kudos_sent_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class PraiseListArgs(Schema):
    account_id = Id(strict=False, data_key="account")
    employee_id = Id(strict=False, data_key="employee")
    since = fields.AwareDateTime(
        default_timezone=None, metadata={"description": "praise recorded at or after"}
    )
    sort = fields.String(
        validate=validate_sort,
        metadata={
            "description": "comma-separated: created_at, account_id, employee_id, score;"
            " - for descending (default -created_at)"
        },
    )


@praise_blp.route("")
class PraiseList(MethodView):
    @praise_blp.arguments(PraiseListArgs, location="query")
    @praise_blp.response(200, PraiseSchema(many=True))
    @praise_blp.paginate(**PAGING)
    def get(self, args, pagination_parameters):
        """List praise on the accounts you may read

        Filters: account, employee, since. Newest first unless sorted otherwise.
        """
        sort = parse_sort(args, ("-created_at",))

        def fetch(page, size):
            items, total = praise.list_praise(db.session, api_user(), args, sort, page, size)
            return praise.praise_rows(db.session, items), total

        return paged(pagination_parameters, fetch)


# Experiments -----------------------------------------------------------------------------


class ExperimentSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    hypothesis = fields.String(allow_none=True)
    period_start = fields.Date(metadata={"description": "detractors who answered from ..."})
    period_end = fields.Date(metadata={"description": "... to this day, inclusive"})
    seed = fields.Integer(metadata={"description": "the assignment is reproducible from it"})
    outreach_share = fields.Float()
    status = fields.String(metadata={"enum": [s.value for s in ExperimentStatus]})
    created_by_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)


class StratumCountSchema(Schema):
    stratum = fields.String(metadata={"description": "the account tier when assigned"})
    outreach = fields.Integer()
    control = fields.Integer()
    total = fields.Integer()


class AuditSchema(Schema):
    recorded = fields.String(
        allow_none=True, metadata={"description": "SHA-256 of the assignments, at start"}
    )
    current = fields.String(allow_none=True, metadata={"description": "of the rows now"})
    intact = fields.Boolean(allow_none=True)


class ExperimentEventSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "created, changed, started, finished"})
    actor_id = fields.Integer(allow_none=True)
    detail = fields.Dict()
    occurred_at = fields.DateTime()


class ExperimentDetailSchema(ExperimentSchema):
    strata = fields.List(fields.Nested(StratumCountSchema))
    audit = fields.Nested(AuditSchema)
    events = fields.List(fields.Nested(ExperimentEventSchema))


class ExperimentArgs(Schema):
    name = Text(200, required=True)
    hypothesis = fields.String(
        allow_none=True, validate=[validate.Length(max=HYPOTHESIS_LENGTH), no_nul]
    )
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True, metadata={"description": "inclusive"})
    seed = fields.Integer(
        strict=True,
        validate=validate.Range(min=0, max=experiments.MAX_SEED),
        metadata={"description": "default: drawn at random (and recorded)"},
    )
    outreach_share = fields.Float(
        validate=validate.Range(min=0, max=1, min_inclusive=False, max_inclusive=False),
        metadata={"description": "share of each tier that gets outreach; default 0.5"},
    )


class ExperimentListArgs(Schema):
    status = Choice(ExperimentStatus)
    sort = fields.String(
        validate=validate_sort,
        metadata={
            "description": "comma-separated: created_at, name, status, period_start;"
            " - for descending (default -created_at)"
        },
    )


class ExperimentActionArgs(Schema):
    """No fields: anything sent is refused (422), so a typo is not silently ignored."""


class AssignmentSchema(Schema):
    id = fields.Integer()
    experiment_id = fields.Integer()
    response_id = fields.Integer()
    person_id = fields.Integer()
    account_id = fields.Integer()
    stratum = fields.String()
    arm = fields.String(metadata={"enum": [arm.value for arm in Arm]})
    baseline_score = fields.Float(
        allow_none=True, metadata={"description": "mean rating 0-100 in the detracting response"}
    )
    baseline_value = fields.Decimal(as_string=True)
    assigned_at = fields.DateTime()


class AssignmentListArgs(Schema):
    arm = Choice(Arm)
    stratum = Choice(Tier)
    account_id = Id(strict=False, data_key="account")


class AssignmentChangeArgs(Schema):
    arm = Choice(Arm)


class ComparisonSchema(Schema):
    outcome = fields.String(metadata={"enum": [key for key, _, _ in experiments.OUTCOMES]})
    label = fields.String()
    unit = fields.String()
    n_outreach = fields.Integer()
    n_control = fields.Integer()
    mean_outreach = fields.Float(allow_none=True)
    mean_control = fields.Float(allow_none=True)
    difference = fields.Float(allow_none=True, metadata={"description": "outreach - control"})
    ci_low = fields.Float(allow_none=True)
    ci_high = fields.Float(allow_none=True)
    df = fields.Float(allow_none=True, metadata={"description": "Welch-Satterthwaite"})
    p_value = fields.Float(allow_none=True)
    status = fields.String(
        metadata={"description": "ok, or insufficient: fewer than 2 measured in an arm"}
    )


class ResultsSchema(Schema):
    experiment_id = fields.Integer()
    status = fields.String()
    final = fields.Boolean(metadata={"description": "false while the experiment runs"})
    as_of = fields.Date()
    confidence = fields.Float()
    assigned = fields.Dict(keys=fields.String(), values=fields.Integer())
    outcomes = fields.List(fields.Nested(ComparisonSchema))


def detail(experiment) -> dict:
    """An experiment with its counts per stratum and arm, its digest check and its events."""
    return {
        **{name: getattr(experiment, name) for name in ExperimentSchema().fields},
        "strata": experiments.assignment_counts(db.session, experiment),
        "audit": experiments.audit(db.session, experiment),
        "events": experiments.events_of(db.session, experiment),
    }


@blp.route("")
class Experiments(MethodView):
    @blp.arguments(ExperimentListArgs, location="query")
    @blp.response(200, ExperimentSchema(many=True))
    @blp.paginate(**PAGING)
    def get(self, args, pagination_parameters):
        """List experiments (admins and executives)

        Filter: status. Newest first unless sorted otherwise.
        """
        sort = parse_sort(args, ("-created_at",))
        return paged(
            pagination_parameters,
            lambda page, size: experiments.list_experiments(
                db.session, api_user(), args, sort, page, size
            ),
        )

    @blp.arguments(ExperimentArgs)
    @blp.response(201, ExperimentDetailSchema)
    def post(self, data):
        """Define an experiment (admins and executives)

        A draft: nobody is assigned until it starts. The period's end is inclusive; the seed
        is drawn at random when not given.
        """
        experiment = experiments.create_experiment(db.session, api_user(), data, utcnow())
        db.session.commit()
        return detail(experiment)


@blp.route("/<id:experiment_id>")
class ExperimentById(MethodView):
    @blp.response(200, ExperimentDetailSchema)
    def get(self, experiment_id):
        """Get an experiment with its counts per tier and arm and its audit trail"""
        return detail(experiments.get_experiment(db.session, api_user(), experiment_id))

    @blp.arguments(ExperimentArgs(partial=True))
    @blp.response(200, ExperimentDetailSchema)
    def patch(self, data, experiment_id):
        """Change a draft experiment

        Once it has started its definition is fixed: 409.
        """
        user = api_user()
        experiment = experiments.get_experiment(db.session, user, experiment_id)
        experiments.update_experiment(db.session, experiment, user, data, utcnow())
        db.session.commit()
        return detail(experiment)


@blp.route("/<id:experiment_id>/start")
class ExperimentStart(MethodView):
    @blp.arguments(ExperimentActionArgs)
    @blp.response(200, ExperimentDetailSchema)
    def post(self, _args, experiment_id):
        """Start: draw the arms and hold the control arm's cases

        The period's untouched detractor cases are assigned at random, stratified by tier;
        the assignment digest is recorded. A second start, or a period without cases: 409.
        """
        user = api_user()
        experiment = experiments.get_experiment(db.session, user, experiment_id)
        experiment = experiments.start_experiment(
            db.session, experiment, user, service.settings_for(), utcnow()
        )
        db.session.commit()
        return detail(experiment)


@blp.route("/<id:experiment_id>/finish")
class ExperimentFinish(MethodView):
    @blp.arguments(ExperimentActionArgs)
    @blp.response(200, ExperimentDetailSchema)
    def post(self, _args, experiment_id):
        """Finish: release the control arm's cases to their owners

        Their due dates run from now. A draft or a finished experiment: 409.
        """
        user = api_user()
        experiment = experiments.get_experiment(db.session, user, experiment_id)
        experiment = experiments.finish_experiment(
            db.session, experiment, user, service.settings_for(), utcnow()
        )
        db.session.commit()
        return detail(experiment)


@blp.route("/<id:experiment_id>/results")
class ExperimentResults(MethodView):
    @blp.response(200, ResultsSchema)
    def get(self, experiment_id):
        """Compare the arms: score change, renewal, value change, with 95% intervals

        Interim while the experiment runs (``final`` false). An outcome measured for fewer
        than two people in an arm is "insufficient", with no difference.
        """
        experiment = experiments.get_experiment(db.session, api_user(), experiment_id)
        return experiments.outcomes(db.session, experiment, utcnow())


@blp.route("/<id:experiment_id>/assignments")
class ExperimentAssignments(MethodView):
    @blp.arguments(AssignmentListArgs, location="query")
    @blp.response(200, AssignmentSchema(many=True))
    @blp.paginate(**PAGING)
    def get(self, args, pagination_parameters, experiment_id):
        """List an experiment's assignments

        Filters: arm, stratum, account.
        """
        experiment = experiments.get_experiment(db.session, api_user(), experiment_id)
        return paged(
            pagination_parameters,
            lambda page, size: experiments.list_assignments(
                db.session, experiment, args, page, size
            ),
        )


@blp.route("/<id:experiment_id>/assignments/<id:assignment_id>")
class ExperimentAssignmentById(MethodView):
    @blp.response(200, AssignmentSchema)
    def get(self, experiment_id, assignment_id):
        """Get one assignment"""
        experiment = experiments.get_experiment(db.session, api_user(), experiment_id)
        return experiments.get_assignment(db.session, experiment, assignment_id)

    @blp.arguments(AssignmentChangeArgs)
    @blp.response(200, AssignmentSchema)
    @blp.alt_response(409, description="always: assignments are never changed")
    def patch(self, _data, experiment_id, assignment_id):
        """Change an assignment: always refused (409)

        Assignments are written once, when the experiment starts; a changed arm would void
        the comparison (the database refuses the update too).
        """
        experiment = experiments.get_experiment(db.session, api_user(), experiment_id)
        experiments.get_assignment(db.session, experiment, assignment_id)
        experiments.refuse_assignment_change(experiment)

    @blp.response(204)
    @blp.alt_response(409, description="always: assignments are never removed")
    def delete(self, experiment_id, assignment_id):
        """Remove an assignment: always refused (409)"""
        experiment = experiments.get_experiment(db.session, api_user(), experiment_id)
        experiments.get_assignment(db.session, experiment, assignment_id)
        experiments.refuse_assignment_change(experiment)
