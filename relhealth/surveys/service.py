"""Surveys and their versions, the wording respondents read, answers, responses and rates.

Functions take the session and plain data, check the rules, flush and leave the commit to the
request or command. A version is frozen once a wave uses it (``freeze_version``); editing a
survey whose latest version is frozen makes a new version, and a question key keeps its type
across versions so answers stay comparable over time.
"""

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from relhealth.accounts.models import Account, Person, Side
from relhealth.accounts.seniority import ladder
from relhealth.analytics.suppression import rate_figures, suppress_rates
from relhealth.analytics.text import sentiment
from relhealth.auth.models import Role, User
from relhealth.auth.permissions import readable_accounts
from relhealth.cohorts.models import (
    Confidentiality,
    Invitation,
    InvitationStatus,
    Program,
    Wave,
    WaveStatus,
)
from relhealth.core.errors import Conflict, DomainError, InvalidInput, NotFound
from relhealth.core.pagination import page_of, sorted_by
from relhealth.core.tokens import digest
from relhealth.db import utcnow
from relhealth.surveys.models import (
    Answer,
    Question,
    QuestionType,
    Response,
    ResponseSource,
    Survey,
    SurveyVersion,
)

NPS_SCALE = (0, 10)
MAX_TEXT_LENGTH = 5000  # characters in a free-text answer
MAX_WORDING_LENGTH = 1000
MAX_QUESTIONS = 100
MAX_OPTIONS = 50
MAX_SCALE_POINTS = 11  # a rating is shown as a row of radio buttons
SURVEY_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,49}$")
QUESTION_KEY = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
DIMENSION = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
# Column names of the responses import and the form's CSRF field: a question may not take them.
RESERVED_KEYS = frozenset(
    {
        "respondent",
        "account",
        "submitted_at",
        "survey",
        "wave_label",
        "external_id",
        "side",
        "seniority",
        "csrf_token",
    }
)
PLACEHOLDERS = ("company", "account")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
CHOICE_TYPES = (QuestionType.CHOICE, QuestionType.MULTI_CHOICE)
SCALED_TYPES = (QuestionType.NPS, QuestionType.RATING)


class AlreadyReceived(Conflict):
    """The invitation's one submission has been made."""

    def __init__(self, message: str = "Your answers were already received. Thank you."):
        super().__init__(message)


class LinkClosed(DomainError):
    """The survey link expired with its wave, or was never sent (the person was skipped)."""

    status_code = 410


class AnswersInvalid(InvalidInput):
    """Some answers break the survey's rules; ``by_question`` holds the messages per key.

    Shaped like a schema error on the ``answers`` field of a submitted body.
    """

    def __init__(self, by_question: Mapping[str, list[str]]):
        self.by_question = dict(by_question)
        count = len(self.by_question)
        message = f"{count} answer{'s' * (count != 1)} need{'s' * (count == 1)} another look."
        super().__init__(message, {"answers": self.by_question})  # type: ignore[dict-item]


# Surveys and versions ---------------------------------------------------------------------------


def list_surveys(session: Session) -> list[Survey]:
    return list(session.scalars(select(Survey).order_by(Survey.name, Survey.id)))


def get_survey(session: Session, survey_id: int) -> Survey:
    survey = session.get(Survey, survey_id)
    if survey is None:
        raise NotFound("No such survey.")
    return survey


def survey_by_key(session: Session, key: str) -> Survey | None:
    return session.scalar(select(Survey).where(Survey.key == key))


def latest_version(session: Session, survey: Survey) -> SurveyVersion:
    return session.scalars(
        select(SurveyVersion)
        .where(SurveyVersion.survey_id == survey.id)
        .order_by(SurveyVersion.number.desc())
        .limit(1)
    ).one()


def get_version(session: Session, survey: Survey, number: int) -> SurveyVersion:
    version = session.scalar(
        select(SurveyVersion).where(
            SurveyVersion.survey_id == survey.id, SurveyVersion.number == number
        )
    )
    if version is None:
        raise NotFound("No such version of this survey.")
    return version


def create_survey(
    session: Session,
    *,
    key: str,
    name: str,
    questions: Sequence[Mapping[str, Any]],
    description: str | None = None,
) -> Survey:
    """A new survey with its first version (not frozen: it can be edited in place)."""
    if not SURVEY_KEY.match(key or ""):
        raise InvalidInput.on(
            "key", "Use up to 50 lower-case letters, digits and hyphens, like 'partner-pulse'."
        )
    if survey_by_key(session, key) is not None:
        raise Conflict(f"The key {key!r} is already used.", {"key": ["Already used."]})
    cleaned = clean_questions(questions)
    survey = Survey(key=key, name=name, description=description)
    version = SurveyVersion(survey=survey, number=1, created_at=utcnow())
    version.questions = [Question(**row) for row in cleaned]
    session.add(survey)
    session.flush()
    return survey


def update_survey(session: Session, survey: Survey, data: Mapping[str, Any]) -> SurveyVersion:
    """Rename or re-describe a survey and, if ``questions`` are given, edit them."""
    for name in ("name", "description"):
        if name in data:
            setattr(survey, name, data[name])
    if "questions" in data:
        return edit_survey(session, survey, data["questions"])
    session.flush()
    return latest_version(session, survey)


def edit_survey(
    session: Session, survey: Survey, questions: Sequence[Mapping[str, Any]]
) -> SurveyVersion:
    """Replace the survey's questions; returns the version that now holds them.

    A frozen latest version (a wave used it) is never changed: the edit becomes a new version,
    numbered one more. An unfrozen one is edited in place. Questions identical to a frozen
    version's make no new version. A key keeps its type in every version.
    """
    current = latest_version(session, survey)
    cleaned = clean_questions(questions, _key_history(session, survey))
    if current.frozen_at is not None:
        if cleaned == [_question_row(q) for q in current.questions]:
            return current
        version = SurveyVersion(survey=survey, number=current.number + 1, created_at=utcnow())
        version.questions = [Question(**row) for row in cleaned]
        session.add(version)
        session.flush()
        return version
    # The old rows go first: the new ones reuse their keys and positions (unique per version).
    current.questions.clear()
    session.flush()
    current.questions.extend(Question(**row) for row in cleaned)
    session.flush()
    return current


def freeze_version(session: Session, version: SurveyVersion, now: dt.datetime) -> SurveyVersion:
    """Mark ``version`` as used by a wave: from now on edits make a new version.

    Freezing a frozen version keeps its first freezing time.
    """
    if version.frozen_at is None:
        version.frozen_at = now
        session.flush()
    return version


_QUESTION_FIELDS = (
    "key",
    "position",
    "type",
    "dimension",
    "text_external",
    "text_internal",
    "required",
    "scale_min",
    "scale_max",
    "options",
)


def _question_row(question: Question) -> dict[str, Any]:
    row = {name: getattr(question, name) for name in _QUESTION_FIELDS}
    row["type"] = QuestionType(row["type"])
    return row


def _key_history(session: Session, survey: Survey) -> dict[str, tuple[QuestionType, int]]:
    """Each key's type in the survey's frozen versions, with the version that fixed it."""
    rows = session.execute(
        select(Question.key, Question.type, SurveyVersion.number)
        .join(SurveyVersion, SurveyVersion.id == Question.version_id)
        .where(SurveyVersion.survey_id == survey.id, SurveyVersion.frozen_at.is_not(None))
        .order_by(SurveyVersion.number)
    )
    return {key: (QuestionType(type_), number) for key, type_, number in rows}


def _unknown_placeholders(text: str) -> list[str]:
    return [name for name in _PLACEHOLDER.findall(text) if name not in PLACEHOLDERS]


def clean_questions(
    questions: Sequence[Mapping[str, Any]],
    history: Mapping[str, tuple[QuestionType, int]] | None = None,
) -> list[dict[str, Any]]:
    """Check question definitions; return them as rows to store, ordered by position.

    Raises InvalidInput with messages under ``questions.<index>.<field>``. ``history`` maps
    the keys of earlier versions to their type: a key may not change type.
    """
    history = history or {}
    problems: dict[str, dict[str, list[str]]] = {}

    def problem(index: int, field: str, message: str) -> None:
        problems.setdefault(str(index), {}).setdefault(field, []).append(message)

    if not questions:
        raise InvalidInput.on("questions", "A survey needs at least one question.")
    if len(questions) > MAX_QUESTIONS:
        raise InvalidInput.on("questions", f"A survey has at most {MAX_QUESTIONS} questions.")
    rows = []
    seen_keys: dict[str, int] = {}
    seen_positions: dict[int, int] = {}
    for index, raw in enumerate(questions):
        key = raw.get("key")
        if not isinstance(key, str) or not QUESTION_KEY.match(key):
            problem(
                index,
                "key",
                "Use up to 50 lower-case letters, digits and underscores, starting with a"
                " letter, like 'ease_of_business'.",
            )
        elif key in RESERVED_KEYS:
            problem(index, "key", f"{key!r} is reserved; choose another key.")
        elif key in seen_keys:
            problem(index, "key", f"The key {key!r} is already used by question {seen_keys[key]}.")
        else:
            seen_keys[key] = index
        try:
            type_ = QuestionType(raw.get("type"))
        except ValueError:
            problem(index, "type", f"Use one of: {', '.join(t.value for t in QuestionType)}.")
            continue
        if isinstance(key, str) and key in history and history[key][0] != type_:
            old_type, number = history[key]
            problem(
                index,
                "type",
                f"{key!r} is a {old_type.value} question in version {number}: a key keeps its"
                " type across versions so answers stay comparable. Use a new key.",
            )
        position = raw.get("position")
        if position is None:
            position = index + 1
        if not isinstance(position, int) or isinstance(position, bool) or position < 1:
            problem(index, "position", "Give a whole number from 1.")
        elif position in seen_positions:
            problem(index, "position", f"Question {seen_positions[position]} has this position.")
        else:
            seen_positions[position] = index
        dimension = raw.get("dimension")
        if dimension is not None and (
            not isinstance(dimension, str) or not DIMENSION.match(dimension)
        ):
            problem(index, "dimension", "Use lower-case letters, digits and underscores.")
        for side in ("text_external", "text_internal"):
            text = raw.get(side)
            if not isinstance(text, str) or not text.strip():
                problem(index, side, "Give the wording.")
            elif len(text) > MAX_WORDING_LENGTH:
                problem(index, side, f"Keep it to {MAX_WORDING_LENGTH} characters.")
            elif unknown := _unknown_placeholders(text):
                problem(
                    index,
                    side,
                    f"Unknown placeholder {{{unknown[0]}}}: use {{company}} or {{account}}.",
                )
        required = raw.get("required", type_ != QuestionType.TEXT)
        if not isinstance(required, bool):
            problem(index, "required", "Give true or false.")
        scale_min, scale_max = raw.get("scale_min"), raw.get("scale_max")
        options = raw.get("options")
        if type_ == QuestionType.NPS:
            if (scale_min, scale_max) not in ((None, None), NPS_SCALE):
                problem(index, "scale_min", "An NPS question is always on 0 to 10.")
            scale_min, scale_max = None, None
        elif type_ == QuestionType.RATING:
            if not all(
                isinstance(v, int) and not isinstance(v, bool) for v in (scale_min, scale_max)
            ):
                problem(index, "scale_min", "A rating needs whole numbers scale_min and scale_max.")
            elif not 0 <= scale_min < scale_max <= 100:
                problem(index, "scale_max", "Need 0 <= scale_min < scale_max <= 100.")
            elif scale_max - scale_min + 1 > MAX_SCALE_POINTS:
                problem(index, "scale_max", f"A rating has at most {MAX_SCALE_POINTS} points.")
        elif scale_min is not None or scale_max is not None:
            problem(index, "scale_min", f"A {type_.value} question has no scale.")
        if type_ in CHOICE_TYPES:
            options = _clean_options(options, index, problem, minimum=2)
        elif type_ == QuestionType.RATING and options is not None:
            # A rating's options, if given, name its two ends ("Poor", "Excellent").
            options = _clean_options(options, index, problem, minimum=2)
            if options is not None and len(options) != 2:
                problem(index, "options", "A rating's options name its two ends: give two.")
        elif options is not None:
            problem(index, "options", f"A {type_.value} question has no options.")
        rows.append(
            {
                "key": key,
                "position": position,
                "type": type_,
                "dimension": dimension,
                "text_external": raw.get("text_external"),
                "text_internal": raw.get("text_internal"),
                "required": required,
                "scale_min": scale_min,
                "scale_max": scale_max,
                "options": options,
            }
        )
    if problems:
        raise InvalidInput("Some questions need another look.", {"questions": problems})  # type: ignore[dict-item]
    return sorted(rows, key=lambda row: row["position"])


def _clean_options(options: Any, index: int, problem, minimum: int) -> list[str] | None:
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        problem(index, "options", "Give a list of options (text).")
        return None
    cleaned = [option.strip() for option in options]
    if len(cleaned) < minimum or len(cleaned) > MAX_OPTIONS:
        problem(index, "options", f"Give from {minimum} to {MAX_OPTIONS} options.")
    elif any(not option or len(option) > 200 for option in cleaned):
        problem(index, "options", "Each option is 1 to 200 characters.")
    elif len(set(cleaned)) != len(cleaned):
        problem(index, "options", "List each option once.")
    elif any(";" in option for option in cleaned):
        problem(index, "options", "Options may not contain ';' (it separates them in imports).")
    return cleaned


# Wording ----------------------------------------------------------------------------------------


def fill(text: str, company: str, account: str) -> str:
    """Put the names in: ``{company}`` is our company, ``{account}`` the account."""
    names = {"company": company, "account": account}
    return _PLACEHOLDER.sub(lambda m: names.get(m.group(1), m.group(0)), text)


def wording(question: Question, side: Side | str, company: str, account: str) -> str:
    """What a respondent on ``side`` reads: their people the external wording, ours the
    internal wording about the account."""
    text = question.text_internal if Side(side) == Side.INTERNAL else question.text_external
    return fill(text, company, account)


# Answers ----------------------------------------------------------------------------------------


def scale_of(question: Question) -> tuple[int, int] | None:
    """The (low, high) ends of a rated question; None for the others."""
    if question.type == QuestionType.NPS:
        return NPS_SCALE
    if question.type == QuestionType.RATING:
        return question.scale_min, question.scale_max
    return None


def scaled_value(value: float, low: int, high: int) -> float:
    """A rating v on low..high as 0-100: 100 * (v - low) / (high - low) (DESIGN.md metrics)."""
    return 100 * (value - low) / (high - low)


_INTEGER = re.compile(r"^\s*[+-]?\d{1,6}\s*$")


def _whole_number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INTEGER.match(value):
        return int(value)
    return None


def _is_empty(value: Any) -> bool:
    """No answer: nothing, blank text, or a list of blank texts (an untouched form field)."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple):
        return all(isinstance(item, str) and not item.strip() for item in value)
    return False


def _clean_answer(question: Question, value: Any) -> tuple[Any, str | None]:
    """(the answer as stored, None) or (None, the problem)."""
    type_ = QuestionType(question.type)
    if type_ in SCALED_TYPES:
        low, high = scale_of(question)
        number = _whole_number(value)
        if number is None or not low <= number <= high:
            return None, f"Choose a whole number from {low} to {high}."
        return number, None
    if type_ == QuestionType.CHOICE:
        if not isinstance(value, str) or value.strip() not in question.options:
            return None, "Choose one of the options."
        return value.strip(), None
    if type_ == QuestionType.MULTI_CHOICE:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            return None, "Choose from the options (a list)."
        chosen = [v.strip() for v in value if v.strip()]
        if any(v not in question.options for v in chosen):
            return None, "Choose only from the options."
        if len(set(chosen)) != len(chosen):
            return None, "Choose each option once."
        return [option for option in question.options if option in chosen], None
    if not isinstance(value, str):
        return None, "Write your answer as text."
    text = value.replace("\r\n", "\n").strip()
    if "\x00" in text:
        return None, "Must not contain NUL characters."
    if len(text) > MAX_TEXT_LENGTH:
        return None, f"Keep it to {MAX_TEXT_LENGTH:,} characters (this is {len(text):,})."
    return text, None


def _missing(question: Question) -> str:
    """What to say about a required question left unanswered."""
    type_ = QuestionType(question.type)
    if type_ in SCALED_TYPES:
        low, high = scale_of(question)
        return f"Choose a number from {low} to {high}."
    return {
        QuestionType.CHOICE: "Choose one of the options.",
        QuestionType.MULTI_CHOICE: "Choose at least one option.",
    }.get(type_, "Write an answer.")


def validate_answers(
    version: SurveyVersion, raw: Mapping[str, Any], *, require_all: bool = True
) -> dict[str, Any]:
    """Check answers against the version's questions; return the answered ones, cleaned.

    NPS answers are whole numbers 0-10, ratings whole numbers on their scale (digits in a
    string count, as a form sends them), a choice one of the options, a multiple choice a list
    of distinct options, text at most 5,000 characters. An empty value is no answer; a required
    question without one is a problem unless ``require_all`` is false (imported history).
    Unknown keys are refused. Raises AnswersInvalid with messages per question key.
    """
    problems: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    questions = {q.key: q for q in version.questions}
    for key in raw:
        if key not in questions:
            problems[str(key)] = ["There is no question with this key in this survey."]
    for key, question in questions.items():
        value = raw.get(key)
        if _is_empty(value):
            if question.required and require_all:
                problems[key] = [_missing(question)]
            continue
        answer, problem = _clean_answer(question, value)
        if problem:
            problems[key] = [problem]
        elif answer not in ("", []):
            cleaned[key] = answer
    if problems:
        raise AnswersInvalid(problems)
    return cleaned


def answer_rows(version: SurveyVersion, cleaned: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Answer rows (dicts of Answer columns) for cleaned answers, in question order.

    Every path that stores answers (form, API, import, demo) builds them here, so a text
    answer always gets its sentiment in the same write.
    """
    rows = []
    for question in version.questions:
        if question.key not in cleaned:
            continue
        value = cleaned[question.key]
        row = {
            "question_key": question.key,
            "question_type": QuestionType(question.type),
            "dimension": question.dimension,
            "value": None,
            "scaled": None,
            "text": None,
            "choices": None,
            "sentiment": None,  # of a text answer, scored here so it is stored with it
        }
        scale = scale_of(question)
        if scale is not None:
            row["value"] = float(value)
            row["scaled"] = scaled_value(value, *scale)
        elif question.type == QuestionType.TEXT:
            row["text"] = value
            row["sentiment"] = sentiment(value)
        else:
            row["choices"] = [value] if isinstance(value, str) else list(value)
        rows.append(row)
    return rows


def rescore_text_answers(session: Session, batch_size: int = 1000) -> Iterator[int]:
    """Score text answers stored without a sentiment (before submissions scored them).

    Goes through them in id order, ``batch_size`` at a time, flushing each batch and yielding
    how many it scored, so the caller can commit as it goes and a stop loses little.
    """
    after = 0
    while True:
        batch = session.execute(
            select(Answer.id, Answer.text)
            .where(Answer.text.is_not(None), Answer.sentiment.is_(None), Answer.id > after)
            .order_by(Answer.id)
            .limit(batch_size)
        ).all()
        if not batch:
            return
        after = batch[-1].id
        scores = [{"id": id_, "sentiment": sentiment(text)} for id_, text in batch]
        scores = [row for row in scores if row["sentiment"] is not None]  # blank text
        if scores:
            session.execute(update(Answer), scores)  # an UPDATE by primary key, batched
        session.flush()
        yield len(scores)


# Responding through a personal link -------------------------------------------------------------


NPS_ENDS = ("Not at all likely", "Extremely likely")
RATING_ENDS = ("Poor", "Excellent")  # when a rating names no ends of its own


@dataclass(frozen=True)
class RespondentQuestion:
    """A question as one respondent sees it: their side's wording, names filled in."""

    key: str
    type: str
    text: str
    required: bool
    scale_min: int | None = None
    scale_max: int | None = None
    ends: tuple[str, str] | None = None  # labels of the scale's two ends
    options: tuple[str, ...] | None = None  # of a choice or multiple choice

    @property
    def points(self) -> list[int]:
        return list(range(self.scale_min, self.scale_max + 1)) if self.ends else []


@dataclass(frozen=True)
class Questionnaire:
    """What a personal link shows: the survey worded for its respondent."""

    survey: str
    account: str
    company: str
    side: str
    first_name: str
    closes_at: dt.datetime
    confidential: bool
    min_group_size: int
    questions: tuple[RespondentQuestion, ...]


def respondent_question(question: Question, side: Side | str, company: str, account: str):
    type_ = QuestionType(question.type)
    scale = scale_of(question)
    ends = None
    if type_ == QuestionType.NPS:
        ends = NPS_ENDS
    elif type_ == QuestionType.RATING:
        ends = tuple(question.options) if question.options else RATING_ENDS
    return RespondentQuestion(
        key=question.key,
        type=type_.value,
        text=wording(question, side, company, account),
        required=question.required,
        scale_min=scale[0] if scale else None,
        scale_max=scale[1] if scale else None,
        ends=ends,
        options=tuple(question.options) if type_ in CHOICE_TYPES else None,
    )


def questionnaire(session: Session, invitation: Invitation, company: str) -> Questionnaire:
    """The survey of an invitation's wave, worded for its respondent's side.

    Their people read the external wording; our people read the internal wording about the
    account, so both sides of one relationship answer mirrored questions in the same wave.
    """
    wave = invitation.wave
    version = session.get(SurveyVersion, wave.survey_version_id)
    account = session.get(Account, invitation.account_id)
    person = session.get(Person, invitation.person_id)
    program = wave.program
    closes = [wave.closes_at] + ([invitation.expires_at] if invitation.expires_at else [])
    return Questionnaire(
        survey=version.survey.name,
        account=account.name,
        company=company,
        side=Side(invitation.side).value,
        first_name=person.first_name,
        closes_at=min(closes),
        confidential=program.confidentiality == Confidentiality.CONFIDENTIAL,
        min_group_size=program.min_group_size,
        questions=tuple(
            respondent_question(q, invitation.side, company, account.name)
            for q in version.questions
        ),
    )


def invitation_for_token(session: Session, token: str) -> Invitation:
    """The invitation behind a personal link's token; NotFound if there is none."""
    if not token or len(token) > 200:
        raise NotFound("This survey link is not valid.")
    invitation = session.scalar(select(Invitation).where(Invitation.token_hash == digest(token)))
    if invitation is None:
        raise NotFound("This survey link is not valid.")
    return invitation


def is_closed(invitation: Invitation, now: dt.datetime) -> bool:
    """The link can no longer be answered: skipped, expired, or its wave closed."""
    wave = invitation.wave
    return (
        invitation.status in (InvitationStatus.SKIPPED, InvitationStatus.EXPIRED)
        or (invitation.expires_at is not None and invitation.expires_at <= now)
        or wave.status == WaveStatus.CLOSED
        or wave.closes_at <= now
    )


def check_open(invitation: Invitation, now: dt.datetime) -> None:
    """Raise AlreadyReceived or LinkClosed unless the invitation can be answered now."""
    if invitation.status == InvitationStatus.RESPONDED:
        raise AlreadyReceived()
    if invitation.status == InvitationStatus.SKIPPED:
        raise LinkClosed("This survey link is not active.")
    if is_closed(invitation, now):
        raise LinkClosed("This survey has closed; answers are no longer taken.")


def submit_response(
    session: Session,
    invitation: Invitation,
    answers: Mapping[str, Any],
    source: ResponseSource = ResponseSource.FORM,
    now: dt.datetime | None = None,
) -> Response:
    """Store the one response an invitation allows, with who the respondent was when invited.

    Side, seniority and account come from the invitation (frozen when the wave opened), so a
    later promotion does not rewrite history. A second submission raises AlreadyReceived,
    also when two arrive at once: the database keeps one response per invitation.
    """
    now = now or utcnow()
    check_open(invitation, now)
    version = session.get(SurveyVersion, invitation.wave.survey_version_id)
    cleaned = validate_answers(version, answers)
    response = Response(
        invitation_id=invitation.id,
        wave_id=invitation.wave_id,
        survey_version_id=version.id,
        person_id=invitation.person_id,
        account_id=invitation.account_id,
        side=invitation.side,
        seniority=invitation.seniority,
        submitted_at=now,
        source=source,
        answers=[Answer(**row) for row in answer_rows(version, cleaned)],
    )
    try:
        with session.begin_nested():
            session.add(response)
            session.flush()
    except IntegrityError:
        # Another submission for this invitation won the race (the unique invitation_id).
        taken = session.scalar(select(Response.id).where(Response.invitation_id == invitation.id))
        if taken is None:
            raise
        raise AlreadyReceived() from None
    invitation.status = InvitationStatus.RESPONDED
    invitation.responded_at = now
    session.flush()
    return response


# Reading responses ------------------------------------------------------------------------------


def _confidential_waves() -> Select:
    return (
        select(Wave.id)
        .join(Program, Program.id == Wave.program_id)
        .where(Program.confidentiality == Confidentiality.CONFIDENTIAL)
    )


def visible_responses(user: User) -> ColumnElement[bool]:
    """A WHERE clause on ``Response``: the responses ``user`` may read one by one.

    Those about accounts they may read. Responses to confidential programs are shown one by
    one only to admins; everyone else sees them in aggregate, k-suppressed (analytics).
    """
    clause = Response.account_id.in_(select(Account.id).where(readable_accounts(user)))
    if user.role == Role.ADMIN:
        return clause
    return and_(
        clause, or_(Response.wave_id.is_(None), Response.wave_id.not_in(_confidential_waves()))
    )


RESPONSE_SORTS = {
    "submitted_at": Response.submitted_at,
    "account_id": Response.account_id,
    "person_id": Response.person_id,
    "wave_id": Response.wave_id,
}


def response_query(user: User, filters: Mapping[str, Any]) -> Select:
    """Responses ``user`` may read, narrowed by account, wave, survey, side, seniority, person,
    source and submission time (``submitted_from`` inclusive, ``submitted_before`` exclusive)."""
    stmt = select(Response).where(visible_responses(user))
    for name in ("account_id", "wave_id", "person_id", "side", "seniority", "source"):
        if filters.get(name) is not None:
            stmt = stmt.where(getattr(Response, name) == filters[name])
    if filters.get("survey_id") is not None:
        stmt = stmt.where(
            Response.survey_version_id.in_(
                select(SurveyVersion.id).where(SurveyVersion.survey_id == filters["survey_id"])
            )
        )
    if filters.get("submitted_from") is not None:
        stmt = stmt.where(Response.submitted_at >= filters["submitted_from"])
    if filters.get("submitted_before") is not None:
        stmt = stmt.where(Response.submitted_at < filters["submitted_before"])
    return stmt


def list_responses(
    session: Session,
    user: User,
    filters: Mapping[str, Any],
    sort: Sequence[str] = ("-submitted_at",),
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[Response], int]:
    stmt = sorted_by(response_query(user, filters), sort, RESPONSE_SORTS, Response.id)
    return page_of(session, stmt, page, page_size)


def get_response(session: Session, user: User, response_id: int) -> Response:
    response = session.scalar(
        select(Response).where(Response.id == response_id, visible_responses(user))
    )
    if response is None:
        raise NotFound("No such response.")
    return response


# Response rates ---------------------------------------------------------------------------------


def response_rates(
    session: Session,
    *,
    user: User | None = None,
    wave_ids: Iterable[int] = (),
    account_ids: Iterable[int] = (),
    program_id: int | None = None,
) -> list[dict[str, Any]]:
    """Invited and responded per wave, account, seniority level and side.

    Counted from invitations as frozen when each wave opened; people skipped (opted out,
    inactive, within the fatigue cap) were not invited and do not count. With ``user``, only
    accounts they may read. Rows come by wave, account, level (ladder order), side. In a
    confidential program the analytics rule applies (``suppress_rates``): a group with fewer
    than k respondents is suppressed, and so is its smallest published sibling when it would
    otherwise be the only hidden group of a breakdown of the wave (levels of an account and
    side, sides of an account and level, accounts of a level and side), so no hidden group
    can be recovered as a total minus the published groups.
    """
    responded = func.count(case((Invitation.status == InvitationStatus.RESPONDED, 1)))
    stmt = (
        select(
            Invitation.wave_id,
            Invitation.account_id,
            Account.name,
            Invitation.seniority,
            Invitation.side,
            Program.confidentiality,
            Program.min_group_size,
            func.count().label("invited"),
            responded.label("responded"),
        )
        .join(Account, Account.id == Invitation.account_id)
        .join(Wave, Wave.id == Invitation.wave_id)
        .join(Program, Program.id == Wave.program_id)
        .where(Invitation.status != InvitationStatus.SKIPPED)
        .group_by(
            Invitation.wave_id,
            Invitation.account_id,
            Account.name,
            Invitation.seniority,
            Invitation.side,
            Program.confidentiality,
            Program.min_group_size,
        )
    )
    wave_ids, account_ids = list(wave_ids), list(account_ids)
    if wave_ids:
        stmt = stmt.where(Invitation.wave_id.in_(wave_ids))
    if account_ids:
        stmt = stmt.where(Invitation.account_id.in_(account_ids))
    if program_id is not None:
        stmt = stmt.where(Wave.program_id == program_id)
    if user is not None:
        stmt = stmt.where(readable_accounts(user))
    levels = {level: index for index, level in enumerate(ladder())}
    keys = ["wave_id", "account_id", "seniority", "side"]
    names, counts = {}, []
    for (
        wave_id,
        account_id,
        name,
        seniority,
        side,
        privacy,
        k,
        invited,
        answered,
    ) in session.execute(stmt):
        names[account_id] = name
        k = k if privacy == Confidentiality.CONFIDENTIAL else 1
        counts.append((wave_id, account_id, seniority, Side(side).value, invited, answered, k))
    if not counts:
        return []
    table = suppress_rates(
        pd.DataFrame(counts, columns=[*keys, "invited", "responded", "k"]), keys=keys
    )
    rows = [
        {
            "wave_id": int(row["wave_id"]),
            "account_id": int(row["account_id"]),
            "account_name": names[row["account_id"]],
            "seniority": row["seniority"],
            "side": row["side"],
            **rate_figures(row),
        }
        for row in table.to_dict("records")
    ]
    return sorted(
        rows,
        key=lambda r: (
            r["wave_id"],
            r["account_name"],
            r["account_id"],
            levels.get(r["seniority"], len(levels)),
            r["seniority"],
            r["side"],
        ),
    )
