"""CSV import of historical survey responses (``relhealth import responses FILE.csv``).

A customer moving from another tool brings years of answers. Like the other imports it is all
or nothing: every line is checked first, and a file with any bad line writes nothing and is
reported line by line (the header is line 1). Each line is one response: who answered
(``respondent``), about which account, when, to which survey, and one column per question key.
Side and seniority are the person's as they are now unless the file gives them (people get
promoted: history should say what they were). A line whose ``external_id``, or whose
respondent, account and time, is already stored is left unchanged, so importing a file again
changes nothing. ``wave_label`` groups lines into a wave: an existing wave of a program on the
same survey with that label, else a closed wave of an inactive "Imported history" program.
Columns and rules: the README, "Importing historical responses".
"""

import csv
import datetime as dt
import io
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from relhealth.accounts.importer import (
    PROGRESS_EVERY,
    Change,
    ImportRejected,
    ImportResult,
    ImportSource,
    Progress,
    header_key,
    read_text,
)
from relhealth.accounts.models import Account, Person, Side
from relhealth.accounts.seniority import ladder
from relhealth.cohorts.models import Cohort, CohortMode, Program, Wave, WaveStatus
from relhealth.db import utcnow
from relhealth.surveys.models import (
    Answer,
    QuestionType,
    Response,
    ResponseSource,
    Survey,
    SurveyVersion,
)
from relhealth.surveys.service import (
    AnswersInvalid,
    answer_rows,
    freeze_version,
    latest_version,
    validate_answers,
)

COLUMNS = (
    "respondent",
    "account",
    "submitted_at",
    "survey",
    "wave_label",
    "external_id",
    "side",
    "seniority",
)
REQUIRED = ("respondent", "submitted_at", "survey")
MAX_EXTERNAL_ID = 100  # responses.external_ref
MAX_WAVE_LABEL = 100  # waves.occurrence
WRITE_CHUNK = 1000  # responses per bulk statement
HISTORY_COHORT = "Imported history"


def history_program_name(survey: Survey) -> str:
    return f"Imported history: {survey.name}"[:200]


def _moment(raw: str) -> dt.datetime:
    """An ISO date (midnight UTC) or date-time (UTC unless it carries an offset)."""
    try:
        if len(raw) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(raw), dt.time(), tzinfo=dt.UTC)
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(
            f"{raw!r} is not a date or date-time (write it like 2025-03-31 or"
            " 2025-03-31T14:05:00Z)."
        ) from None
    return moment.astimezone(dt.UTC) if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class _Someone:
    id: int
    side: str
    account_id: int | None
    seniority: str


@dataclass
class _SurveyInfo:
    survey: Survey
    version: SurveyVersion  # the latest: answers without a matching wave are read against it
    keys: dict[str, QuestionType] = field(default_factory=dict)


@dataclass
class _Line:
    line: int
    person: _Someone
    account_id: int
    submitted_at: dt.datetime
    survey: _SurveyInfo
    version: SurveyVersion
    wave_id: int | None
    wave_label: str | None
    side: str
    seniority: str
    external_id: str | None
    answers: dict[str, Any]


class _Lookups:
    """What checking a file needs from the database, loaded once."""

    def __init__(self, session: Session):
        self.session = session
        self.people_by_email: dict[str, _Someone] = {}
        self.people_by_crm: dict[str, _Someone] = {}
        for id_, email, crm_id, side, account_id, seniority in session.execute(
            select(
                Person.id,
                Person.email,
                Person.crm_id,
                Person.side,
                Person.account_id,
                Person.seniority,
            )
        ):
            someone = _Someone(id_, Side(side).value, account_id, seniority)
            if email:
                self.people_by_email[email.lower()] = someone
            if crm_id:
                self.people_by_crm[crm_id] = someone
        accounts = session.execute(select(Account.id, Account.crm_id, Account.name)).all()
        self.account_by_crm = {crm_id: id_ for id_, crm_id, _name in accounts if crm_id}
        self.account_by_name = {name: id_ for id_, _crm_id, name in accounts}
        self.surveys: dict[str, _SurveyInfo | None] = {}
        self.waves: dict[tuple[int, str], list[tuple[int, int]]] = defaultdict(list)
        for wave_id, occurrence, survey_id, version_id in session.execute(
            select(Wave.id, Wave.occurrence, Program.survey_id, Wave.survey_version_id).join(
                Program, Program.id == Wave.program_id
            )
        ):
            self.waves[(survey_id, occurrence)].append((wave_id, version_id))
        self.versions: dict[int, SurveyVersion] = {}

    def person(self, ref: str) -> _Someone | None:
        return self.people_by_email.get(ref.lower()) or self.people_by_crm.get(ref)

    def account(self, ref: str) -> int | None:
        return self.account_by_crm.get(ref) or self.account_by_name.get(ref)

    def survey(self, key: str) -> _SurveyInfo | None:
        if key not in self.surveys:
            survey = self.session.scalar(select(Survey).where(Survey.key == key))
            info = None
            if survey is not None:
                version = latest_version(self.session, survey)
                info = _SurveyInfo(survey, version)
                for number_version in survey.versions:
                    for question in number_version.questions:
                        info.keys.setdefault(question.key, QuestionType(question.type))
            self.surveys[key] = info
        return self.surveys[key]

    def version(self, version_id: int) -> SurveyVersion:
        if version_id not in self.versions:
            self.versions[version_id] = self.session.get(SurveyVersion, version_id)
        return self.versions[version_id]


class _Reader:
    """The CSV: its header mapped to the fixed columns and question keys, then its rows."""

    def __init__(self, source: ImportSource):
        text = read_text(source)
        self.total = text.count("\n") + (not text.endswith("\n"))
        first_line = text.lstrip("\r\n").split("\n", 1)[0]
        # Excel writes ';' or tabs where the decimal mark is a comma; use what the header uses.
        delimiter = max(",;\t", key=first_line.count)
        self._reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        header = self._next()
        while header is not None and not any(cell.strip() for cell in header):
            header = self._next()
        if header is None:
            raise ImportRejected(["The file has no header line."])
        self.header_line = self._reader.line_num
        self.width = len(header)
        self.fixed: dict[str, int] = {}  # column name -> index
        self.questions: dict[str, tuple[int, str]] = {}  # header key -> (index, as written)
        problems = []
        wanted = {header_key(name): name for name in COLUMNS}
        for index, raw in enumerate(header):
            name = raw.strip()
            if not name:
                continue
            key = header_key(name)
            if key in wanted:
                column = wanted[key]
                if column in self.fixed:
                    problems.append(f"the column {name!r} is given twice; keep one.")
                self.fixed[column] = index
            elif key in self.questions:
                problems.append(f"the column {name!r} is given twice; keep one.")
            else:
                self.questions[key] = (index, name)
        for column in REQUIRED:
            if column not in self.fixed:
                problems.append(f"the required column {column!r} is missing.")
        if problems:
            raise ImportRejected([f"Line {self.header_line}: {problem}" for problem in problems])

    def _next(self) -> list[str] | None:
        try:
            return next(self._reader)
        except StopIteration:
            return None
        except csv.Error as error:
            line = self._reader.line_num
            raise ImportRejected(
                [f"Line {line}: the CSV cannot be read from here on: {error}."]
            ) from None

    def rows(self) -> Iterator[tuple[int, list[str], list[str]]]:
        """(line, cells, problems) for each non-blank line; short lines padded with blanks."""
        while True:
            line = self._reader.line_num + 1
            cells = self._next()
            if cells is None:
                return
            if not "".join(cells).strip():
                continue
            problems = []
            if "\x00" in "".join(cells):  # PostgreSQL text cannot hold it
                problems.append("contains a NUL character.")
            if len(cells) < self.width:
                cells += [""] * (self.width - len(cells))
            elif len(cells) > self.width and "".join(cells[self.width :]).strip():
                problems.append(f"{len(cells)} values, but the header names {self.width} columns.")
            yield line, [cell.strip() for cell in cells], problems

    def cell(self, cells: list[str], column: str) -> str | None:
        index = self.fixed.get(column)
        return (cells[index] or None) if index is not None else None


def _check_line(
    reader: _Reader,
    lookups: _Lookups,
    line: int,
    cells: list[str],
    problems: list[str],
    now: dt.datetime,
) -> _Line | None:
    """Read one line into a response to store, noting its problems."""
    ref = reader.cell(cells, "respondent")
    person = lookups.person(ref) if ref else None
    if ref is None:
        problems.append("respondent: a value is required.")
    elif person is None:
        problems.append(f"respondent: no person has the e-mail or crm_id {ref!r}.")
    account_ref = reader.cell(cells, "account")
    account_id = None
    if account_ref is not None:
        account_id = lookups.account(account_ref)
        if account_id is None:
            problems.append(f"account: no account has the crm_id or name {account_ref!r}.")
    elif person is not None:
        account_id = person.account_id
        if account_id is None:
            problems.append(
                "account: our own people answer about an account; give its crm_id or name."
            )
    submitted_at = None
    raw_time = reader.cell(cells, "submitted_at")
    if raw_time is None:
        problems.append("submitted_at: a value is required.")
    else:
        try:
            submitted_at = _moment(raw_time)
        except ValueError as error:
            problems.append(f"submitted_at: {error}")
        else:
            if submitted_at > now:
                problems.append(f"submitted_at: {raw_time!r} is in the future.")
    survey_key = reader.cell(cells, "survey")
    info = lookups.survey(survey_key) if survey_key else None
    if survey_key is None:
        problems.append("survey: a value is required.")
    elif info is None:
        problems.append(f"survey: no survey has the key {survey_key!r}.")
    side = reader.cell(cells, "side")
    if side is not None and side.lower() not in (s.value for s in Side):
        problems.append(f"side: {side!r} is not one of: external, internal.")
        side = None
    seniority = reader.cell(cells, "seniority")
    if seniority is not None:
        levels = {level.lower(): level for level in ladder()}
        if seniority.lower() not in levels:
            problems.append(f"seniority: {seniority!r} is not one of: {', '.join(ladder())}.")
        seniority = levels.get(seniority.lower())
    external_id = reader.cell(cells, "external_id")
    if external_id is not None and len(external_id) > MAX_EXTERNAL_ID:
        problems.append(f"external_id: is longer than {MAX_EXTERNAL_ID} characters.")
    label = reader.cell(cells, "wave_label")
    if label is not None and len(label) > MAX_WAVE_LABEL:
        problems.append(f"wave_label: is longer than {MAX_WAVE_LABEL} characters.")
    if info is None:
        return None
    version, wave_id = info.version, None
    if label is not None:
        waves = lookups.waves.get((info.survey.id, label), [])
        if len(waves) > 1:
            problems.append(
                f"wave_label: {len(waves)} waves of the survey {survey_key!r} have the label"
                f" {label!r}; this import cannot tell which one is meant."
            )
        elif waves:
            wave_id, version_id = waves[0]
            version = lookups.version(version_id)
    questions = {q.key: q for q in version.questions}
    raw_answers: dict[str, Any] = {}
    for key, (index, name) in reader.questions.items():
        value = cells[index]
        question_key = key.replace(" ", "_")
        if not value:
            continue
        question = questions.get(question_key)
        if question is None:
            problems.append(
                f"{name}: is not a question of version {version.number} of {survey_key!r};"
                " leave it empty on this line."
            )
            continue
        if question.type == QuestionType.MULTI_CHOICE:
            raw_answers[question_key] = [part.strip() for part in value.split(";")]
        else:
            raw_answers[question_key] = value
    try:
        answers = validate_answers(version, raw_answers, require_all=False)
    except AnswersInvalid as error:
        labels = {k.replace(" ", "_"): name for k, (_i, name) in reader.questions.items()}
        for key, messages in error.by_question.items():
            problems.append(f"{labels.get(key, key)}: {' '.join(messages)}")
        answers = {}
    else:
        if not answers and not problems:
            problems.append("no answers: give at least one question column a value.")
    if person is None or account_id is None or submitted_at is None or problems:
        return None
    return _Line(
        line=line,
        person=person,
        account_id=account_id,
        submitted_at=submitted_at,
        survey=info,
        version=version,
        wave_id=wave_id,
        wave_label=label,
        side=(side or person.side).lower(),
        seniority=seniority or person.seniority,
        external_id=external_id,
        answers=answers,
    )


def _stored_keys(session: Session, lines: list[_Line]) -> tuple[set[str], set[tuple]]:
    """External ids, and (person, account, time) of responses already stored for the file."""
    external_ids = [line.external_id for line in lines if line.external_id]
    refs: set[str] = set()
    for start in range(0, len(external_ids), WRITE_CHUNK):
        chunk = external_ids[start : start + WRITE_CHUNK]
        refs.update(
            session.scalars(select(Response.external_ref).where(Response.external_ref.in_(chunk)))
        )
    people = sorted({line.person.id for line in lines})
    moments: set[tuple] = set()
    for start in range(0, len(people), WRITE_CHUNK):
        chunk = people[start : start + WRITE_CHUNK]
        moments.update(
            tuple(row)
            for row in session.execute(
                select(Response.person_id, Response.account_id, Response.submitted_at).where(
                    Response.person_id.in_(chunk)
                )
            )
        )
    return refs, moments


def _history_program(session: Session, survey: Survey, starts_at: dt.datetime) -> Program:
    """The inactive program that holds imported waves of ``survey`` (made on first use)."""
    name = history_program_name(survey)
    program = session.scalar(select(Program).where(Program.name == name))
    if program is not None:
        return program
    cohort = session.scalar(select(Cohort).where(Cohort.name == HISTORY_COHORT))
    if cohort is None:
        cohort = Cohort(name=HISTORY_COHORT, mode=CohortMode.FIXED, rule={})
        session.add(cohort)
    program = Program(
        name=name,
        survey_id=survey.id,
        cohort=cohort,
        starts_at=starts_at,
        active=False,  # it only holds history: the tick never opens a wave for it
    )
    session.add(program)
    session.flush()
    return program


def _history_waves(session: Session, lines: list[_Line], now: dt.datetime) -> None:
    """Create the closed waves that labelled lines name and no existing wave matches."""
    groups: dict[tuple[int, str], list[_Line]] = defaultdict(list)
    for line in lines:
        if line.wave_label is not None and line.wave_id is None:
            groups[(line.survey.survey.id, line.wave_label)].append(line)
    for (_survey_id, label), members in groups.items():
        first = min(line.submitted_at for line in members)
        last = max(line.submitted_at for line in members)
        info = members[0].survey
        program = _history_program(session, info.survey, first)
        wave = Wave(
            program_id=program.id,
            occurrence=label,
            survey_version_id=info.version.id,
            opens_at=first,
            closes_at=last,
            status=WaveStatus.CLOSED,
            created_at=now,
            closed_at=last,
        )
        session.add(wave)
        session.flush()
        for line in members:
            line.wave_id = wave.id


def import_responses(
    session: Session,
    source: ImportSource,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    now: dt.datetime | None = None,
) -> ImportResult:
    """Import historical responses from CSV, all or nothing (see the module docstring)."""
    now = now or utcnow()
    reader = _Reader(source)
    session.flush()
    lookups = _Lookups(session)
    result = ImportResult("responses", dry_run)
    problems: list[str] = []
    lines: list[_Line] = []
    seen_external: dict[str, int] = {}
    seen_moment: dict[tuple, int] = {}
    for line, cells, line_problems in reader.rows():
        if progress is not None and line % PROGRESS_EVERY == 0:
            progress("checking", line, reader.total)
        checked = _check_line(reader, lookups, line, cells, line_problems, now)
        external_id = reader.cell(cells, "external_id")
        if external_id is not None:
            first = seen_external.setdefault(external_id, line)
            if first != line:
                line_problems.append(f"external_id {external_id!r} is on line {first}.")
        if checked is not None:
            moment = (checked.person.id, checked.account_id, checked.submitted_at)
            first = seen_moment.setdefault(moment, line)
            if first != line:
                line_problems.append(
                    f"line {first} has a response of the same respondent, account and time."
                )
        if line_problems:
            problems.append(f"Line {line}: {' '.join(line_problems)}")
        elif checked is not None:
            lines.append(checked)
    known = {key for info in lookups.surveys.values() if info is not None for key in info.keys}
    unknown = [
        name for key, (_i, name) in reader.questions.items() if key.replace(" ", "_") not in known
    ]
    if unknown and known:
        problems.insert(
            0,
            f"Line {reader.header_line}: {', '.join(repr(n) for n in unknown)}: neither a column"
            f" of the import ({', '.join(COLUMNS)}) nor a question key of the file's surveys.",
        )
    if problems:
        raise ImportRejected(problems)
    refs, moments = _stored_keys(session, lines)
    new = []
    for line in lines:
        key = (line.person.id, line.account_id, line.submitted_at)
        if (line.external_id is not None and line.external_id in refs) or key in moments:
            result.unchanged += 1
            continue
        new.append(line)
        result.created += 1
        if dry_run:
            what = f"response of person {line.person.id} at {line.submitted_at.isoformat()}"
            result.changes.append(Change(line.line, "create", what))
    if not new and not lines:
        result.warnings.append("The file has no responses.")
    if dry_run or not new:
        return result
    _write(session, new, now, progress)
    return result


def _write(
    session: Session, lines: list[_Line], now: dt.datetime, progress: Progress | None
) -> None:
    _history_waves(session, lines, now)
    for version in {line.version.id: line.version for line in lines}.values():
        freeze_version(session, version, now)  # answers exist: edits make a new version
    done = 0
    for start in range(0, len(lines), WRITE_CHUNK):
        chunk = lines[start : start + WRITE_CHUNK]
        ids = session.scalars(
            insert(Response).returning(Response.id, sort_by_parameter_order=True),
            [
                {
                    "invitation_id": None,
                    "wave_id": line.wave_id,
                    "survey_version_id": line.version.id,
                    "person_id": line.person.id,
                    "account_id": line.account_id,
                    "side": Side(line.side),
                    "seniority": line.seniority,
                    "submitted_at": line.submitted_at,
                    "source": ResponseSource.IMPORT,
                    "external_ref": line.external_id,
                }
                for line in chunk
            ],
        ).all()
        answers = [
            {"response_id": response_id, **row}
            for response_id, line in zip(ids, chunk, strict=True)
            for row in answer_rows(line.version, line.answers)
        ]
        if answers:
            session.execute(insert(Answer), answers)
        done += len(chunk)
        if progress is not None:
            progress("writing", done, len(lines))
    session.flush()
