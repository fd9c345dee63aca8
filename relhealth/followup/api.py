"""REST resources: follow-up cases of the accounts you may read, worked where you may write."""

from flask.views import MethodView

from relhealth.auth.api import api_blueprint, api_user
from relhealth.core.pagination import PAGING, paged
from relhealth.core.schemas import sort_keys as parse_sort
from relhealth.db import utcnow
from relhealth.extensions import db
from relhealth.followup import service
from relhealth.followup.schemas import (
    CaseActivityArgs,
    CaseActivitySchema,
    CaseListArgs,
    CaseSchema,
    CaseTransitionArgs,
    CaseUpdateArgs,
    TellRespondentArgs,
)

blp = api_blueprint(
    "cases",
    __name__,
    "/cases",
    "Follow-up cases opened by detractors and alerts: owner, priority, SLA, timeline.",
)


@blp.route("")
class Cases(MethodView):
    @blp.arguments(CaseListArgs, location="query")
    @blp.response(200, CaseSchema(many=True))
    @blp.paginate(**PAGING)
    def get(self, args, pagination_parameters):
        """List cases of the accounts you may read

        Filters: status, reason, owner, account, person, overdue, live. Late cases first, then
        by priority, unless sorted otherwise.
        """
        sort = parse_sort(args, service.DEFAULT_SORT)
        return paged(
            pagination_parameters,
            lambda page, size: service.list_cases(
                db.session, api_user(), args, sort, page, size, utcnow()
            ),
        )


@blp.route("/<id:case_id>")
class CaseById(MethodView):
    @blp.response(200, CaseSchema)
    def get(self, case_id):
        """Get a case"""
        return service.get_case(db.session, api_user(), case_id)

    @blp.arguments(CaseUpdateArgs)
    @blp.response(200, CaseSchema)
    def patch(self, data, case_id):
        """Change a case's owner or root-cause tags

        For users who may change the account. The owner must be able to change it too;
        tags come from the taxonomy (setting FOLLOWUP_ROOT_CAUSES) and replace the current ones.
        """
        user, now = api_user(), utcnow()
        case = service.get_case(db.session, user, case_id, write=True)
        if "owner_id" in data:
            service.assign(db.session, case, data["owner_id"], user, now)
        if "tags" in data:
            service.set_tags(db.session, case, data["tags"], user, now)
        db.session.commit()
        return case


@blp.route("/<id:case_id>/transitions")
class CaseTransitions(MethodView):
    @blp.arguments(CaseTransitionArgs)
    @blp.response(200, CaseSchema)
    def post(self, data, case_id):
        """Move a case along its workflow

        open → contacted → action_planned → resolved, or closed_unresolved from any live
        status; anything else is 409. Resolving needs a resolution (what was done).
        """
        user = api_user()
        case = service.get_case(db.session, user, case_id, write=True)
        service.transition(
            db.session, case, data["to"], user, utcnow(), data["note"], data.get("resolution")
        )
        db.session.commit()
        return case


@blp.route("/<id:case_id>/activities")
class CaseActivities(MethodView):
    @blp.response(200, CaseActivitySchema(many=True))
    def get(self, case_id):
        """A case's timeline, oldest first"""
        return service.activities_of(db.session, service.get_case(db.session, api_user(), case_id))

    @blp.arguments(CaseActivityArgs)
    @blp.response(201, CaseActivitySchema)
    def post(self, data, case_id):
        """Log a call, e-mail, meeting or note

        A call, e-mail or meeting is a contact: an open case becomes contacted. Ended cases
        take no activities (409).
        """
        user = api_user()
        case = service.get_case(db.session, user, case_id, write=True)
        activity = service.log_activity(
            db.session, case, data["kind"], data["body"], user, data.get("occurred_at"), utcnow()
        )
        db.session.commit()
        return activity


@blp.route("/<id:case_id>/tell")
class CaseTell(MethodView):
    @blp.arguments(TellRespondentArgs)
    @blp.response(200, CaseSchema)
    def post(self, data, case_id):
        """Tell the respondent what we are doing ("we heard you")

        Queues the e-mail through the outbox; once per case. 409 when the case names nobody,
        the person has no e-mail or opted out, or was told already.
        """
        user = api_user()
        case = service.get_case(db.session, user, case_id, write=True)
        service.tell_respondent(db.session, case, data["message"], user, utcnow())
        db.session.commit()
        return case
