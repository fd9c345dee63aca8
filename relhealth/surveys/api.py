"""REST resources: surveys and their versions, responses, response rates, and the JSON submit.

Surveys, responses and rates take a bearer token like the rest of the API. The submit endpoint
does not: the personal token in its path is the respondent's credential (respondents are not
users), so it sits on its own blueprint without the token check, exempt from CSRF (no cookies).
"""

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from relhealth.auth.api import api_blueprint, api_user
from relhealth.auth.permissions import may_manage_surveys, require
from relhealth.core.pagination import PAGING, paged
from relhealth.core.schemas import sort_keys
from relhealth.db import utcnow
from relhealth.extensions import db
from relhealth.followup.hooks import after_response
from relhealth.surveys import schemas, service
from relhealth.surveys.models import ResponseSource

surveys_blp = api_blueprint(
    "surveys", __name__, "/surveys", "Survey templates, versioned, with mirrored wording."
)
responses_blp = api_blueprint(
    "responses", __name__, "/responses", "What people said, as they were when they said it."
)
rates_blp = api_blueprint(
    "response-rates", __name__, "/response-rates", "Invited and responded, by wave and group."
)
submit_blp = Blueprint(
    "response-submit",
    __name__,
    url_prefix="/api/v1/responses/submit",
    description="Answering through a personal link, for forms embedded elsewhere (no API token).",
)


def _manager_only() -> None:
    require(may_manage_surveys(api_user()), "Only an admin may create or edit surveys.")


@surveys_blp.route("")
class Surveys(MethodView):
    @surveys_blp.response(200, schemas.SurveySchema(many=True))
    def get(self):
        """List surveys, each with its latest version"""
        return service.list_surveys(db.session)

    @surveys_blp.arguments(schemas.SurveyArgs)
    @surveys_blp.response(201, schemas.SurveySchema)
    def post(self, data):
        """Create a survey (admins)

        Its first version holds the questions; it is frozen when a wave first uses it.
        """
        _manager_only()
        survey = service.create_survey(db.session, **data)
        db.session.commit()
        return survey


@surveys_blp.route("/<id:survey_id>")
class SurveyById(MethodView):
    @surveys_blp.response(200, schemas.SurveySchema)
    def get(self, survey_id):
        """Get a survey with its latest version and questions"""
        return service.get_survey(db.session, survey_id)

    @surveys_blp.arguments(schemas.SurveyUpdateArgs)
    @surveys_blp.response(200, schemas.SurveySchema)
    def patch(self, data, survey_id):
        """Rename a survey or replace its questions (admins)

        If a wave has used the latest version, new questions make a new version (keys carry
        over; a key may not change type); otherwise the latest version is edited in place.
        """
        _manager_only()
        survey = service.get_survey(db.session, survey_id)
        service.update_survey(db.session, survey, data)
        db.session.commit()
        db.session.refresh(survey)
        return survey


@surveys_blp.route("/<id:survey_id>/versions/<id:number>")
class SurveyVersionByNumber(MethodView):
    @surveys_blp.response(200, schemas.SurveyVersionSchema)
    def get(self, survey_id, number):
        """Get one version of a survey with its questions"""
        survey = service.get_survey(db.session, survey_id)
        return service.get_version(db.session, survey, number)


@responses_blp.route("")
class Responses(MethodView):
    @responses_blp.arguments(schemas.ResponseListArgs, location="query")
    @responses_blp.response(200, schemas.ResponseSchema(many=True))
    @responses_blp.paginate(**PAGING)
    def get(self, args, pagination_parameters):
        """List responses about accounts you may see

        Filters: account, wave, survey, person, side, seniority, source, submitted_from,
        submitted_to (dates or date-times). Sort by submitted_at (default, newest first),
        account_id, person_id, wave_id. Responses to confidential programs are listed for
        admins only.
        """
        sort = sort_keys(args, ("-submitted_at",))
        return paged(
            pagination_parameters,
            lambda page, size: service.list_responses(
                db.session, api_user(), args, sort, page, size
            ),
        )


@responses_blp.route("/<id:response_id>")
class ResponseById(MethodView):
    @responses_blp.response(200, schemas.ResponseSchema)
    def get(self, response_id):
        """Get a response with its answers"""
        return service.get_response(db.session, api_user(), response_id)


@rates_blp.route("")
class ResponseRates(MethodView):
    @rates_blp.arguments(schemas.ResponseRateArgs, location="query")
    @rates_blp.response(200, schemas.ResponseRateSchema(many=True))
    def get(self, args):
        """Response rates by wave, account, seniority level and side

        Filters: wave and account (repeat for several), program. People skipped when a wave
        opened (opted out, inactive, fatigue cap) were not invited and are not counted.
        """
        return service.response_rates(db.session, user=api_user(), **args)


# Answering through a personal link --------------------------------------------------------------


@submit_blp.after_request
def _embeddable(response):
    # No cookies or API tokens are involved: any page holding the link may post the answers.
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Allow-Methods"] = "GET, POST"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


NO_TOKEN = []  # OpenAPI: these operations need no bearer token


@submit_blp.route("/<token>")
class Submission(MethodView):
    @submit_blp.doc(security=NO_TOKEN)
    @submit_blp.response(200, schemas.QuestionnaireSchema)
    @submit_blp.alt_response(404, description="unknown link")
    @submit_blp.alt_response(409, description="already answered")
    @submit_blp.alt_response(410, description="the survey closed")
    def get(self, token):
        """The questions behind a personal link, worded for its respondent"""
        invitation = service.invitation_for_token(db.session, token)
        service.check_open(invitation, utcnow())
        return service.questionnaire(db.session, invitation, current_app.config["COMPANY_NAME"])

    @submit_blp.doc(security=NO_TOKEN)
    @submit_blp.arguments(schemas.SubmitArgs)
    @submit_blp.response(201, schemas.SubmittedSchema)
    @submit_blp.alt_response(404, description="unknown link")
    @submit_blp.alt_response(409, description="already answered: nothing changed")
    @submit_blp.alt_response(410, description="the survey closed: nothing stored")
    def post(self, data, token):
        """Submit the answers of a personal link (once)

        Answers are keyed by question key. Invalid answers are answered 422 with one message
        per question under ``errors.json.answers``, and nothing is stored.
        """
        invitation = service.invitation_for_token(db.session, token)
        response = service.submit_response(
            db.session, invitation, data["answers"], ResponseSource.API
        )
        after_response(db.session, response.id)  # cases and kudos; never fails the submission
        db.session.commit()
        return {
            "id": response.id,
            "submitted_at": response.submitted_at,
            "message": "Thank you: your answers were received.",
        }


token_blueprints = (surveys_blp, responses_blp, rates_blp)
