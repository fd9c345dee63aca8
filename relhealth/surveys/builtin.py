"""The two survey templates relhealth ships with, as data, and their installation.

Every question carries mirrored wording: ``text_external`` is what their people read,
``text_internal`` what our people read about the same thing for one account. ``{company}`` is our
company's name (setting ``RELHEALTH_COMPANY_NAME``) and ``{account}`` the account's name. Rated
questions of the same dimension on both sides are what the internal-vs-external gap compares.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from relhealth.surveys.models import Survey
from relhealth.surveys.service import create_survey

# The dimensions both templates rate, in the order respondents meet them.
DIMENSIONS = (
    "trust",
    "communication",
    "responsiveness",
    "value",
    "expertise",
    "strategic_alignment",
    "ease_of_business",
)

WELL = ["Not at all well", "Extremely well"]  # the ends of a "How well ...?" rating
EASY = ["Very difficult", "Very easy"]


@dataclass(frozen=True)
class SurveyTemplate:
    key: str
    name: str
    description: str
    questions: tuple[dict[str, Any], ...]


def _nps(key: str, external: str, internal: str) -> dict[str, Any]:
    return {
        "key": key,
        "type": "nps",
        "dimension": "overall",
        "text_external": external,
        "text_internal": internal,
    }


def _rating(dimension: str, external: str, internal: str, ends=WELL) -> dict[str, Any]:
    return {
        "key": dimension,
        "type": "rating",
        "dimension": dimension,
        "text_external": external,
        "text_internal": internal,
        "scale_min": 1,
        "scale_max": 5,
        "options": list(ends),
    }


def _text(key: str, external: str, internal: str) -> dict[str, Any]:
    return {
        "key": key,
        "type": "text",
        "dimension": None,
        "text_external": external,
        "text_internal": internal,
        "required": False,
    }


RELATIONSHIP_HEALTH = SurveyTemplate(
    key="relationship-health",
    name="Relationship health",
    description=(
        "How the relationship is going, across seniority levels and from both sides: their"
        " people say how it is, our people say how they think the account sees it."
    ),
    questions=(
        _nps(
            "nps",
            "How likely are you to recommend {company} to a friend or colleague?",
            "How likely do you think {account} is to recommend {company} to a friend or colleague?",
        ),
        _rating(
            "trust",
            "How well does {company} keep its commitments to you?",
            "How well do you think {account} feels we keep our commitments?",
        ),
        _rating(
            "communication",
            "How well does {company} keep you informed?",
            "How well do you think {account} feels we keep them informed?",
        ),
        _rating(
            "responsiveness",
            "How well does {company} respond when you need something?",
            "How well do you think {account} feels we respond when they need something?",
        ),
        _rating(
            "value",
            "How well does {company} deliver value for what you invest?",
            "How well do you think {account} feels we deliver value for what they invest?",
        ),
        _rating(
            "expertise",
            "How well does {company} understand your business and bring the right expertise?",
            "How well do you think {account} feels we understand their business and bring the"
            " right expertise?",
        ),
        _rating(
            "strategic_alignment",
            "How well does {company} support where your organisation is heading?",
            "How well do you think {account} feels we support where they are heading?",
        ),
        _rating(
            "ease_of_business",
            "How easy is it to do business with {company}?",
            "How easy do you think {account} finds it to do business with us?",
            ends=EASY,
        ),
        _text(
            "do_differently",
            "What should we do differently?",
            "What do you think {account} would want us to do differently?",
        ),
        _text(
            "made_a_difference",
            "Who at {company} has made a difference for you?",
            "Who at {company} do you think has made the biggest difference for {account}?",
        ),
    ),
)

PARTNER_TWO_WAY = SurveyTemplate(
    key="partner-two-way",
    name="Partner two-way",
    description=(
        "Both sides of a partnership rate it on the same dimensions: the partner's people about"
        " working with us, our people about working with the partner."
    ),
    questions=(
        _nps(
            "nps",
            "How likely are you to recommend working with {company} to a peer?",
            "How likely are you to recommend working with {account} to a peer?",
        ),
        _rating(
            "trust",
            "How well do you and {company} keep your commitments to each other?",
            "How well do we and {account} keep our commitments to each other?",
        ),
        _rating(
            "communication",
            "How well do you and {company} keep each other informed?",
            "How well do we and {account} keep each other informed?",
        ),
        _rating(
            "responsiveness",
            "How well does {company} respond when you need something?",
            "How well does {account} respond when we need something?",
        ),
        _rating(
            "value",
            "How well does the partnership with {company} create value for your business?",
            "How well does the partnership with {account} create value for our business?",
        ),
        _rating(
            "expertise",
            "How well does {company} bring the skills the partnership needs?",
            "How well does {account} bring the skills the partnership needs?",
        ),
        _rating(
            "strategic_alignment",
            "How well are your goals and {company}'s aligned?",
            "How well are our goals and {account}'s aligned?",
        ),
        _rating(
            "ease_of_business",
            "How easy is it to work with {company} day to day?",
            "How easy is it to work with {account} day to day?",
            ends=EASY,
        ),
        _text(
            "stronger_partnership",
            "What one thing would make the partnership with {company} stronger?",
            "What one thing would make the partnership with {account} stronger?",
        ),
        _text(
            "made_a_difference",
            "Who at {company} has made a difference for you?",
            "Who at {account} has made a difference for you?",
        ),
    ),
)

BUILTIN_SURVEYS = (RELATIONSHIP_HEALTH, PARTNER_TWO_WAY)


def install_builtin_surveys(session: Session) -> list[Survey]:
    """Create the shipped templates that are missing; return the ones created.

    Idempotent, and safe when two processes (a tick and the demo) install at once: a template
    another transaction created meanwhile is left to it. Templates that exist are not touched,
    even if an admin has edited them.
    """
    created = []
    for template in BUILTIN_SURVEYS:
        if session.scalar(select(Survey.id).where(Survey.key == template.key)) is not None:
            continue
        try:
            with session.begin_nested():
                survey = create_survey(
                    session,
                    key=template.key,
                    name=template.name,
                    description=template.description,
                    questions=[dict(question) for question in template.questions],
                )
        except IntegrityError:
            continue  # installed by someone else between our check and our insert
        created.append(survey)
    return created
