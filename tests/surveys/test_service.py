"""Survey versions, question definitions, wording, answer validation, submission, rates."""

import datetime as dt

import pytest
from sqlalchemy import func, select

from relhealth.accounts.models import Account, Side
from relhealth.cohorts.models import Confidentiality, InvitationStatus, WaveStatus
from relhealth.core.errors import InvalidInput
from relhealth.db import utcnow
from relhealth.surveys import service
from relhealth.surveys.models import Answer, Response, ResponseSource
from tests import factories as f
from tests.surveys.conftest import COMPANY, full_answers


def question(key="trust", type_="rating", **extra) -> dict:
    base = {
        "key": key,
        "type": type_,
        "dimension": "trust",
        "text_external": "How well does {company} keep its commitments?",
        "text_internal": "How well do you think {account} feels we keep them?",
    }
    if type_ == "rating":
        base |= {"scale_min": 1, "scale_max": 5}
    if type_ in ("choice", "multi_choice"):
        base |= {"options": ["Email", "Phone", "Meetings"], "dimension": None}
    return base | extra


def make_survey(session, *questions):
    return service.create_survey(
        session, key="pulse", name="Pulse", questions=list(questions) or [question()]
    )


def stored(session) -> tuple[int, int]:
    return (
        session.scalar(select(func.count()).select_from(Response)),
        session.scalar(select(func.count()).select_from(Answer)),
    )


# Versions ---------------------------------------------------------------------------------------


def test_a_new_survey_has_one_unfrozen_version_that_edits_change_in_place(session):
    survey = make_survey(session)
    [version] = survey.versions
    assert (version.number, version.frozen_at) == (1, None)
    edited = service.edit_survey(
        session, survey, [question(), question("value", dimension="value")]
    )
    assert edited is version
    assert [q.key for q in version.questions] == ["trust", "value"]


def test_editing_a_frozen_version_makes_the_next_version_and_keeps_the_old_one(session):
    survey = make_survey(session, question(), question("value", dimension="value"))
    first = survey.versions[0]
    service.freeze_version(session, first, utcnow())
    changed = question(text_external="Does {company} keep its word?")
    second = service.edit_survey(session, survey, [changed, question("ease", dimension="ease")])
    assert second.number == 2
    assert second.frozen_at is None
    assert [q.key for q in second.questions] == ["trust", "ease"]
    session.expire_all()
    assert [q.key for q in first.questions] == ["trust", "value"]
    assert first.questions[0].text_external.startswith("How well")
    assert [v.number for v in survey.versions] == [1, 2]


def test_the_same_questions_again_make_no_new_version(session):
    survey = make_survey(session)
    service.freeze_version(session, survey.versions[0], utcnow())
    assert service.edit_survey(session, survey, [question()]) is survey.versions[0]


def test_a_key_may_not_change_type_across_versions(session):
    survey = make_survey(session)
    service.freeze_version(session, survey.versions[0], utcnow())
    with pytest.raises(InvalidInput) as caught:
        service.edit_survey(
            session, survey, [question(type_="nps", scale_min=None, scale_max=None)]
        )
    assert "keeps its type" in caught.value.fields["questions"]["0"]["type"][0]
    assert len(survey.versions) == 1


def test_a_key_dropped_in_one_version_keeps_its_type_when_it_returns(session):
    survey = make_survey(session)
    service.freeze_version(session, survey.versions[0], utcnow())
    second = service.edit_survey(session, survey, [question("value", dimension="value")])
    service.freeze_version(session, second, utcnow())
    with pytest.raises(InvalidInput):
        service.edit_survey(
            session, survey, [question(type_="text", scale_min=None, scale_max=None)]
        )


def test_freezing_keeps_the_first_freezing_time(session):
    survey = make_survey(session)
    version = survey.versions[0]
    first = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    service.freeze_version(session, version, first)
    service.freeze_version(session, version, first + dt.timedelta(days=90))
    assert version.frozen_at == first


@pytest.mark.parametrize(
    ("definition", "field", "fragment"),
    [
        (question(scale_min=5, scale_max=5), "scale_max", "scale_min < scale_max"),
        (question(scale_min=None), "scale_min", "needs whole numbers"),
        (question(scale_min=0, scale_max=20), "scale_max", "at most 11 points"),
        (question(type_="choice", options=None), "options", "list of options"),
        (question(type_="choice", options=["Only one"]), "options", "from 2"),
        (question(type_="multi_choice", options=["A", "A"]), "options", "once"),
        (question(type_="text", options=["A", "B"]), "options", "no options"),
        (question(type_="nps", scale_min=1, scale_max=5), "scale_min", "0 to 10"),
        (question(type_="essay"), "type", "Use one of"),
        (question(key="Trust Level"), "key", "lower-case"),
        (question(key="respondent"), "key", "reserved"),
        (question(text_internal="Does {acount} trust us?"), "text_internal", "{acount}"),
        (question(text_external=""), "text_external", "wording"),
    ],
)
def test_bad_question_definitions_are_refused_with_the_field(session, definition, field, fragment):
    with pytest.raises(InvalidInput) as caught:
        make_survey(session, definition)
    messages = caught.value.fields["questions"]["0"][field]
    assert any(fragment in message for message in messages), messages


def test_keys_and_positions_must_be_unique(session):
    with pytest.raises(InvalidInput) as caught:
        make_survey(session, question(position=1), question(position=1), question("trust"))
    problems = caught.value.fields["questions"]
    assert "position" in problems["1"]
    assert "already used" in problems["2"]["key"][0]


# Wording ----------------------------------------------------------------------------------------


def test_wording_fills_our_company_and_the_account_for_each_side(session):
    q = make_survey(session).versions[0].questions[0]
    assert service.wording(q, Side.EXTERNAL, "Northwind", "Contoso") == (
        "How well does Northwind keep its commitments?"
    )
    assert service.wording(q, "internal", "Northwind", "Contoso") == (
        "How well do you think Contoso feels we keep them?"
    )


# Answers ----------------------------------------------------------------------------------------


@pytest.fixture
def invitation(session):
    return f.InvitationFactory()


@pytest.mark.parametrize(
    ("answers", "key", "fragment"),
    [
        (full_answers(nps=11), "nps", "from 0 to 10"),
        (full_answers(nps=-1), "nps", "from 0 to 10"),
        (full_answers(nps="nine"), "nps", "whole number"),
        (full_answers(nps=True), "nps", "whole number"),
        (full_answers(nps=7.5), "nps", "whole number"),
        (full_answers(rating=0), "trust", "from 1 to 5"),
        (full_answers(rating=6), "value", "from 1 to 5"),
        (full_answers(rating=[4]), "expertise", "whole number"),
        (full_answers(do_differently=12), "do_differently", "as text"),
        (full_answers(do_differently="x" * 5001), "do_differently", "5,000 characters"),
        (full_answers(do_differently="a\x00b"), "do_differently", "NUL"),
        ({"nps": 9}, "trust", "Choose a number from 1 to 5"),
        (full_answers(nps=""), "nps", "Choose a number from 0 to 10"),
        (full_answers(mood="great"), "mood", "no question with this key"),
    ],
)
def test_invalid_answers_are_refused_per_question_and_nothing_is_stored(
    session, invitation, answers, key, fragment
):
    with pytest.raises(service.AnswersInvalid) as caught:
        service.submit_response(session, invitation, answers)
    assert fragment in caught.value.by_question[key][0]
    assert caught.value.fields == {"answers": caught.value.by_question}
    assert stored(session) == (0, 0)
    assert invitation.status == InvitationStatus.INVITED


def test_choices_must_come_from_the_options(session):
    survey = make_survey(
        session,
        question("channel", "choice"),
        question("topics", "multi_choice", required=False),
    )
    version = survey.versions[0]
    with pytest.raises(service.AnswersInvalid) as caught:
        service.validate_answers(version, {"channel": "Fax", "topics": ["Email", "Email"]})
    assert caught.value.by_question == {
        "channel": ["Choose one of the options."],
        "topics": ["Choose each option once."],
    }
    cleaned = service.validate_answers(
        version, {"channel": " Phone ", "topics": ["Meetings", "Email"]}
    )
    assert cleaned == {"channel": "Phone", "topics": ["Email", "Meetings"]}
    assert service.validate_answers(version, {"channel": "Email", "topics": []}) == {
        "channel": "Email"
    }


def test_text_line_breaks_count_once_and_blank_text_is_no_answer(session, invitation):
    text = "Call us\r\n" * 600  # 5,400 characters as posted, 4,800 once line breaks are one
    version = session.get(service.SurveyVersion, invitation.wave.survey_version_id)
    cleaned = service.validate_answers(
        version, full_answers(do_differently=text, made_a_difference="  ")
    )
    assert len(cleaned["do_differently"]) == 4799
    assert "made_a_difference" not in cleaned


def test_a_response_keeps_who_the_respondent_was_when_invited(session, invitation):
    person = f.PersonFactory(seniority="manager")
    invitation = f.InvitationFactory(person=person)
    person.seniority = "executive"  # promoted after the wave opened
    now = utcnow()
    response = service.submit_response(
        session,
        invitation,
        full_answers(nps="10", rating="2", do_differently="More calls"),
        now=now,
    )
    assert (response.side, response.seniority, response.account_id) == (
        Side.EXTERNAL,
        "manager",
        person.account_id,
    )
    assert (response.wave_id, response.source, response.submitted_at) == (
        invitation.wave_id,
        ResponseSource.FORM,
        now,
    )
    answers = {a.question_key: a for a in response.answers}
    assert (answers["nps"].value, answers["nps"].scaled, answers["nps"].dimension) == (
        10,
        100,
        "overall",
    )
    assert (answers["trust"].value, answers["trust"].scaled) == (2, 25)
    assert answers["do_differently"].text == "More calls"
    assert answers["do_differently"].sentiment == 0  # scored on submission: neutral
    assert answers["nps"].sentiment is None
    assert "made_a_difference" not in answers
    assert (invitation.status, invitation.responded_at) == (InvitationStatus.RESPONDED, now)


def test_a_second_submission_is_already_received_and_changes_nothing(session, invitation):
    service.submit_response(session, invitation, full_answers())
    with pytest.raises(service.AlreadyReceived, match="already received"):
        service.submit_response(session, invitation, full_answers(nps=0))
    assert stored(session) == (1, 8)  # nps and seven ratings


def test_a_second_submission_past_the_status_check_is_stopped_by_the_database(session, invitation):
    service.submit_response(session, invitation, full_answers())
    invitation.status = InvitationStatus.INVITED  # as a concurrent request saw it
    with pytest.raises(service.AlreadyReceived):
        service.submit_response(session, invitation, full_answers())
    assert stored(session)[0] == 1


@pytest.mark.parametrize(
    "close",
    [
        lambda inv: setattr(inv, "expires_at", utcnow() - dt.timedelta(seconds=1)),
        lambda inv: setattr(inv.wave, "status", WaveStatus.CLOSED),
        lambda inv: setattr(inv.wave, "closes_at", utcnow() - dt.timedelta(minutes=1)),
        lambda inv: setattr(inv, "status", InvitationStatus.EXPIRED),
        lambda inv: (
            setattr(inv, "status", InvitationStatus.SKIPPED),
            setattr(inv, "skip_reason", "fatigue"),
        ),
    ],
    ids=["expired", "wave-closed", "wave-past-closing", "marked-expired", "skipped"],
)
def test_closed_links_take_no_answers(session, invitation, close):
    close(invitation)
    with pytest.raises(service.LinkClosed):
        service.submit_response(session, invitation, full_answers())
    assert stored(session) == (0, 0)


def test_the_questionnaire_gives_our_people_the_internal_wording_about_the_account(session):
    external = f.InvitationFactory()
    account = session.get(Account, external.account_id)
    ours = f.InvitationFactory(person=f.StaffFactory(), account_id=account.id, wave=external.wave)
    theirs = service.questionnaire(session, external, COMPANY)
    internal = service.questionnaire(session, ours, COMPANY)
    assert theirs.questions[0].text == (
        f"How likely are you to recommend {COMPANY} to a friend or colleague?"
    )
    assert internal.questions[0].text == (
        f"How likely do you think {account.name} is to recommend {COMPANY} to a friend or"
        " colleague?"
    )
    assert internal.side == "internal"
    assert internal.questions[-1].text == (
        f"Who at {COMPANY} do you think has made the biggest difference for {account.name}?"
    )
    assert theirs.questions[0].ends == service.NPS_ENDS
    assert theirs.questions[1].ends == ("Not at all well", "Extremely well")
    assert theirs.questions[1].points == [1, 2, 3, 4, 5]


# Response rates ---------------------------------------------------------------------------------


def test_response_rates_count_invited_and_responded_by_account_level_and_side(session):
    wave = f.WaveFactory()
    account = f.AccountFactory(name="Contoso")
    people = [f.PersonFactory(account=account, seniority="manager") for _ in range(3)]
    invitations = [f.InvitationFactory(wave=wave, person=p) for p in people]
    f.InvitationFactory(
        wave=wave,
        person=f.PersonFactory(account=account, seniority="manager"),
        status=InvitationStatus.SKIPPED,
    )
    executive = f.InvitationFactory(
        wave=wave, person=f.PersonFactory(account=account, seniority="executive")
    )
    ours = f.InvitationFactory(
        wave=wave, person=f.StaffFactory(seniority="manager"), account_id=account.id
    )
    for invitation in invitations[:2]:
        service.submit_response(session, invitation, full_answers())
    service.submit_response(session, ours, full_answers())
    rows = service.response_rates(session, wave_ids=[wave.id])
    assert [(r["seniority"], r["side"], r["invited"], r["responded"]) for r in rows] == [
        ("executive", "external", 1, 0),
        ("manager", "external", 3, 2),
        ("manager", "internal", 1, 1),
    ]
    assert rows[1]["response_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert {r["account_name"] for r in rows} == {"Contoso"}
    assert executive.status == InvitationStatus.INVITED
    assert service.response_rates(session, wave_ids=[wave.id + 1000]) == []


def confidential_wave(account, groups):
    """A wave of a confidential program (k = 3) with ``(level, invited, responded)`` groups
    of the account's people."""
    wave = f.WaveFactory(
        program=f.ProgramFactory(confidentiality=Confidentiality.CONFIDENTIAL, min_group_size=3)
    )
    for seniority, invited, responded in groups:
        for index in range(invited):
            f.InvitationFactory(
                wave=wave,
                person=f.PersonFactory(account=account, seniority=seniority),
                status=InvitationStatus.RESPONDED if index < responded else "invited",
            )
    return wave


def test_groups_with_fewer_than_k_respondents_are_suppressed_with_their_lone_sibling(session):
    account = f.AccountFactory()
    # executive: 4 invited (k or more) but 2 answered: suppressed. It would be the only hidden
    # level, so the published level with the fewest respondents (manager, 3) goes too.
    confidential_wave(account, [("manager", 3, 3), ("executive", 4, 2), ("staff", 6, 4)])
    rows = {r["seniority"]: r for r in service.response_rates(session, account_ids=[account.id])}
    assert rows["staff"] | {"wave_id": 0, "account_id": 0} == {
        "wave_id": 0,
        "account_id": 0,
        "account_name": account.name,
        "seniority": "staff",
        "side": "external",
        "suppressed": False,
        "invited": 6,
        "responded": 4,
        "response_rate": 0.6667,
    }
    for level in ("executive", "manager"):
        assert rows[level] | {"wave_id": 0, "account_id": 0} == {
            "wave_id": 0,
            "account_id": 0,
            "account_name": account.name,
            "seniority": level,
            "side": "external",
            "suppressed": True,
            "invited": None,
            "responded": None,
            "response_rate": None,
        }


def test_a_hidden_group_cannot_be_recovered_from_the_wave_total(session):
    from relhealth.cohorts.service import wave_counts

    account = f.AccountFactory()
    # Under the old rule (fewer than k invited) only the executive pair was hidden, and the
    # published wave total minus the published manager gave back who of the two answered.
    wave = confidential_wave(account, [("manager", 4, 3), ("executive", 2, 0)])
    total = wave_counts(session, wave)
    assert (total["suppressed"], total["invited"], total["responded"]) == (False, 6, 3)
    rows = service.response_rates(session, wave_ids=[wave.id])
    assert [(r["seniority"], r["suppressed"]) for r in rows] == [
        ("executive", True),
        ("manager", True),
    ]
    assert all(group["suppressed"] for group in total["by_level"].values())
