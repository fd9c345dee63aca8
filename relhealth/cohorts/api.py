"""REST resources: cohorts and their panels, programs, waves and invitations.

Admins create and change; everyone else reads what touches the accounts they may read (a
cohort or program asking someone about one of them, a wave with an invitation for one), with
lists and counts narrowed to those accounts.
"""

from flask.views import MethodView

from relhealth.accounts.models import Account
from relhealth.accounts.seniority import ladder
from relhealth.accounts.service import account_query
from relhealth.auth.api import api_blueprint, api_user
from relhealth.auth.models import Role
from relhealth.auth.permissions import may_manage_listening, require
from relhealth.cohorts import schemas, service
from relhealth.cohorts.models import Confidentiality, Wave
from relhealth.cohorts.review import load_review
from relhealth.core.pagination import PAGING, paged
from relhealth.core.schemas import EndArgs, sort_keys
from relhealth.core.time import today_utc
from relhealth.extensions import db

cohorts_blp = api_blueprint("cohorts", __name__, "/cohorts", "Who is asked: cohorts and panels.")
programs_blp = api_blueprint(
    "programs", __name__, "/programs", "Survey programs: survey, cohort, schedule, triggers."
)
waves_blp = api_blueprint("waves", __name__, "/waves", "Waves of programs and their invitations.")


def _manage() -> None:
    require(may_manage_listening(api_user()), "Only an admin may change cohorts and programs.")


def _scope():
    return service.account_scope(api_user(), today_utc())


# Cohorts -------------------------------------------------------------------------------------


@cohorts_blp.route("")
class Cohorts(MethodView):
    @cohorts_blp.response(200, schemas.CohortSchema(many=True))
    def get(self):
        """List cohorts you may see"""
        return service.list_cohorts(db.session, api_user())

    @cohorts_blp.arguments(schemas.CohortArgs)
    @cohorts_blp.response(201, schemas.CohortSchema)
    def post(self, data):
        """Create a cohort (admins)

        A rule selects accounts (account_ids, kinds, tiers, relationship_types) and people
        (sides, seniorities, roles). A fixed panel is filled from its rule at its first wave
        and keeps its members after that; a dynamic cohort applies its rule at every wave.
        """
        _manage()
        cohort = service.create_cohort(db.session, data)
        db.session.commit()
        return cohort


@cohorts_blp.route("/preview")
class CohortPreview(MethodView):
    @cohorts_blp.arguments(schemas.PreviewArgs)
    @cohorts_blp.response(200, schemas.PreviewSchema)
    def post(self, args):
        """Preview who a rule asks today

        Counts by account, side and level, how many would be skipped and why (left, not active
        yet, opted out, no e-mail), and a sample. Limited to the accounts you may read.
        """
        return service.preview_cohort(
            db.session, args["rule"], today_utc(), _scope(), sample_size=args["sample"]
        )


@cohorts_blp.route("/<id:cohort_id>")
class CohortById(MethodView):
    @cohorts_blp.response(200, schemas.CohortSchema)
    def get(self, cohort_id):
        """Get a cohort"""
        return service.get_cohort(db.session, api_user(), cohort_id)

    @cohorts_blp.arguments(schemas.CohortUpdateArgs)
    @cohorts_blp.response(200, schemas.CohortSchema)
    def patch(self, data, cohort_id):
        """Change a cohort (admins); a filled panel keeps its members"""
        _manage()
        cohort = service.get_cohort(db.session, api_user(), cohort_id)
        service.update_cohort(db.session, cohort, data)
        db.session.commit()
        return cohort

    @cohorts_blp.response(204)
    def delete(self, cohort_id):
        """Delete a cohort no program uses (admins)"""
        _manage()
        cohort = service.get_cohort(db.session, api_user(), cohort_id)
        service.delete_cohort(db.session, cohort)
        db.session.commit()


@cohorts_blp.route("/<id:cohort_id>/members")
class PanelMembers(MethodView):
    @cohorts_blp.arguments(schemas.PanelListArgs, location="query")
    @cohorts_blp.response(200, schemas.PanelMemberSchema(many=True))
    @cohorts_blp.paginate(**PAGING)
    def get(self, args, cohort_id, pagination_parameters):
        """List a fixed panel's members, current and past"""
        cohort = service.get_cohort(db.session, api_user(), cohort_id)
        return paged(
            pagination_parameters,
            lambda page, size: service.list_panel_members(
                db.session, cohort, args, page, size, _scope()
            ),
        )

    @cohorts_blp.arguments(schemas.PanelMemberArgs)
    @cohorts_blp.response(201, schemas.PanelMemberSchema)
    def post(self, data, cohort_id):
        """Put someone on a fixed panel for an account (admins); re-adding reopens"""
        _manage()
        cohort = service.get_cohort(db.session, api_user(), cohort_id)
        member = service.add_panel_member(
            db.session, cohort, data["person_id"], data["account_id"], data.get("on") or today_utc()
        )
        db.session.commit()
        return member


@cohorts_blp.route("/<id:cohort_id>/members/<id:member_id>/end")
class PanelMemberEnd(MethodView):
    @cohorts_blp.arguments(EndArgs)
    @cohorts_blp.response(200, schemas.PanelMemberSchema)
    def post(self, args, cohort_id, member_id):
        """Take someone off a panel (admins; kept for history)"""
        _manage()
        cohort = service.get_cohort(db.session, api_user(), cohort_id)
        member = service.get_panel_member(db.session, cohort, member_id)
        service.remove_panel_member(db.session, member, args.get("on") or today_utc())
        db.session.commit()
        return member


@cohorts_blp.route("/<id:cohort_id>/refresh")
class PanelRefresh(MethodView):
    @cohorts_blp.response(200, schemas.RefreshSchema)
    def post(self, cohort_id):
        """Add to a fixed panel whoever its rule matches today and was never on it (admins)"""
        _manage()
        cohort = service.get_cohort(db.session, api_user(), cohort_id)
        added = service.refresh_panel(db.session, cohort, today_utc())
        db.session.commit()
        return {"added": added}


# Programs ------------------------------------------------------------------------------------


@programs_blp.route("")
class Programs(MethodView):
    @programs_blp.response(200, schemas.ProgramSchema(many=True))
    def get(self):
        """List programs you may see"""
        return service.list_programs(db.session, api_user())

    @programs_blp.arguments(schemas.ProgramArgs)
    @programs_blp.response(201, schemas.ProgramSchema)
    def post(self, data):
        """Create a program (admins)

        Defaults: quarterly (FREQ=MONTHLY;INTERVAL=3 from starts_at), open 14 days, a reminder
        after 7 days, nobody surveyed more often than every 90 days across programs,
        identified. Event triggers (before_renewal, after_start) open one wave per account,
        trigger_days before its renewal date or after it started; the rule is then unused.
        """
        _manage()
        program = service.create_program(db.session, data, today_utc())
        db.session.commit()
        return program


@programs_blp.route("/<id:program_id>")
class ProgramById(MethodView):
    @programs_blp.response(200, schemas.ProgramSchema)
    def get(self, program_id):
        """Get a program"""
        return service.get_program(db.session, api_user(), program_id)

    @programs_blp.arguments(schemas.ProgramArgs(partial=True))
    @programs_blp.response(200, schemas.ProgramSchema)
    def patch(self, data, program_id):
        """Change a program (admins); waves already open keep what they froze"""
        _manage()
        program = service.get_program(db.session, api_user(), program_id)
        service.update_program(db.session, program, data, today_utc())
        db.session.commit()
        return program

    @programs_blp.response(204)
    def delete(self, program_id):
        """Delete a program that never opened a wave (admins); deactivate one with history"""
        _manage()
        program = service.get_program(db.session, api_user(), program_id)
        service.delete_program(db.session, program)
        db.session.commit()


@programs_blp.route("/<id:program_id>/waves")
class ProgramWaves(MethodView):
    @programs_blp.response(200, schemas.WaveSchema(many=True))
    def get(self, program_id):
        """List a program's waves, oldest first"""
        program = service.get_program(db.session, api_user(), program_id)
        return service.list_waves(db.session, program)


# Waves ---------------------------------------------------------------------------------------


@waves_blp.route("/<id:wave_id>")
class WaveById(MethodView):
    @waves_blp.response(200, schemas.WaveDetailSchema)
    def get(self, wave_id):
        """Get a wave with its invitation and response counts

        Counts cover the accounts you may read. In a confidential program a group with fewer
        than k respondents is suppressed, and so is the smallest other group of its breakdown
        when it would be the only hidden one (else the total would give it back).
        """
        wave = service.get_wave(db.session, api_user(), wave_id)
        counts = service.wave_counts(db.session, wave, _scope())
        return {**{c.key: getattr(wave, c.key) for c in Wave.__table__.columns}, "counts": counts}


@waves_blp.route("/<id:wave_id>/invitations")
class WaveInvitations(MethodView):
    @waves_blp.arguments(schemas.InvitationListArgs, location="query")
    @waves_blp.response(200, schemas.InvitationSchema(many=True))
    @waves_blp.paginate(**PAGING)
    def get(self, args, wave_id, pagination_parameters):
        """List a wave's invitations and recorded skips (never their tokens)

        Filters: status, side, seniority, account, skip_reason. Who answered a confidential
        program is for admins only.
        """
        wave = service.get_wave(db.session, api_user(), wave_id)
        if wave.program.confidentiality == Confidentiality.CONFIDENTIAL:
            require(
                api_user().role == Role.ADMIN,
                "Who was asked in a confidential program is shown to admins only.",
            )
        sort = sort_keys(args, ("id",))
        return paged(
            pagination_parameters,
            lambda page, size: service.list_invitations(
                db.session, wave, args, sort, page, size, _scope()
            ),
        )


review_blp = api_blueprint(
    "listening-review", __name__, "/review", "Does the listening fit each relationship?"
)


@review_blp.route("")
class ListeningReview(MethodView):
    @review_blp.arguments(schemas.ReviewArgs, location="query")
    @review_blp.response(200, schemas.AccountReviewSchema(many=True))
    def get(self, args):
        """Review the listening program, account by account, neediest first

        For each active account you may see: the programs that reached it, the seniority
        levels and sides heard in its last two waves, panel continuity, and recommendations.
        """
        accounts = account_query(api_user(), {"active": True}).with_only_columns(Account.id)
        if args.get("account_id"):
            accounts = accounts.where(Account.id == args["account_id"])
        return load_review(db.session, accounts, ladder())


blueprints = (cohorts_blp, programs_blp, waves_blp, review_blp)
