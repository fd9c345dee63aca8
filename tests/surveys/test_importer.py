"""``relhealth import responses FILE.csv``: history from another tool, all or nothing."""

import pytest
from sqlalchemy import func, select

from relhealth.accounts.importer import ImportRejected
from relhealth.accounts.models import Side
from relhealth.cohorts.models import Program, Wave, WaveStatus
from relhealth.surveys import service
from relhealth.surveys.importer import import_responses
from relhealth.surveys.models import Answer, Response, ResponseSource
from tests import factories as f

HEADER = "respondent,account,submitted_at,survey,wave_label,external_id,nps,trust,do_differently"


@pytest.fixture
def scene(session):
    """Two of their people at Contoso, one of ours on its team, the shipped templates."""
    account = f.AccountFactory(name="Contoso", crm_id="ACC-1")
    ada = f.PersonFactory(account=account, email="ada@contoso.test", seniority="executive")
    bob = f.PersonFactory(account=account, email="bob@contoso.test", crm_id="P-2")
    ours = f.StaffFactory(email="kim@northwind.test", seniority="senior")
    f.builtin_survey()
    return account, ada, bob, ours


def counts(session) -> tuple[int, int]:
    return (
        session.scalar(select(func.count()).select_from(Response)),
        session.scalar(select(func.count()).select_from(Answer)),
    )


GOOD = (
    f"{HEADER}\n"
    "ada@contoso.test,,2024-03-31,relationship-health,2024-Q1,R-1,9,4,Fewer handoffs\n"
    "P-2,ACC-1,2024-04-02T10:30:00+02:00,relationship-health,2024-Q1,R-2,6,2,\n"
    "kim@northwind.test,Contoso,2024-04-03,relationship-health,2024-Q1,R-3,8,5,\n"
)


def test_history_is_stored_as_it_was_with_a_closed_wave_per_label(session, scene):
    account, ada, bob, ours = scene
    result = import_responses(session, GOOD)
    assert (result.created, result.updated, result.unchanged) == (3, 0, 0)
    assert counts(session) == (3, 7)
    rows = {r.person_id: r for r in session.scalars(select(Response))}
    assert {r.account_id for r in rows.values()} == {account.id}
    assert (rows[ada.id].side, rows[ada.id].seniority) == (Side.EXTERNAL, "executive")
    assert (rows[ours.id].side, rows[ours.id].seniority) == (Side.INTERNAL, "senior")
    assert rows[bob.id].submitted_at.isoformat() == "2024-04-02T08:30:00+00:00"
    assert rows[ada.id].source == ResponseSource.IMPORT
    assert rows[ada.id].external_ref == "R-1"
    assert rows[ada.id].invitation_id is None
    answers = {a.question_key: a for a in rows[ada.id].answers}
    assert (answers["nps"].value, answers["trust"].scaled) == (9, 75)
    assert answers["do_differently"].text == "Fewer handoffs"
    [wave] = session.scalars(select(Wave)).all()
    assert {r.wave_id for r in rows.values()} == {wave.id}
    assert (wave.occurrence, wave.status) == ("2024-Q1", WaveStatus.CLOSED)
    program = session.get(Program, wave.program_id)
    assert program.active is False
    assert session.get(service.SurveyVersion, wave.survey_version_id).frozen_at is not None


def test_importing_the_same_file_again_changes_nothing(session, scene):
    import_responses(session, GOOD)
    result = import_responses(session, GOOD)
    assert (result.created, result.unchanged) == (0, 3)
    assert counts(session) == (3, 7)
    assert len(session.scalars(select(Wave)).all()) == 1
    without_ids = GOOD.replace(",R-1,", ",,").replace(",R-2,", ",,").replace(",R-3,", ",,")
    assert import_responses(session, without_ids).unchanged == 3


def test_side_and_seniority_columns_record_who_they_were_then(session, scene):
    _account, ada, _bob, _ours = scene
    text = (
        "respondent,submitted_at,survey,side,seniority,nps\n"
        "ada@contoso.test,2023-01-15,relationship-health,external,Manager,7\n"
    )
    import_responses(session, text)
    response = session.scalars(select(Response)).one()
    assert (response.seniority, response.wave_id) == ("manager", None)
    assert ada.seniority == "executive"


def test_an_existing_wave_with_the_label_takes_the_lines(session, scene):
    wave = f.WaveFactory(occurrence="2025-Q3", status=WaveStatus.CLOSED)
    text = "respondent,submitted_at,survey,wave_label,nps\n"
    text += "ada@contoso.test,2025-08-01,relationship-health,2025-Q3,10\n"
    import_responses(session, text)
    assert session.scalars(select(Response)).one().wave_id == wave.id
    assert session.scalar(select(func.count()).select_from(Wave)) == 1


def test_every_bad_line_is_reported_by_number_and_nothing_is_written(session, scene):
    text = (
        f"{HEADER}\n"
        "ada@contoso.test,,2024-03-31,relationship-health,,R-1,9,4,\n"
        "nobody@nowhere.test,,2024-03-31,relationship-health,,R-2,9,4,\n"
        "bob@contoso.test,,2024-03-31,relationship-health,,R-3,11,0,\n"
        "kim@northwind.test,,2024-03-31,relationship-health,,R-4,5,,\n"
        "bob@contoso.test,,31/03/2024,pulse,,R-5,5,,\n"
        "bob@contoso.test,,2999-01-01,relationship-health,,R-1,5,,\n"
        '"bob@contoso.test",,2024-05-01,relationship-health,,R-7,,,"multi\n'
        'line"\n'
        "bob@contoso.test,,2024-05-02,relationship-health,,R-8,,,\n"
    )
    with pytest.raises(ImportRejected) as caught:
        import_responses(session, text)
    problems = caught.value.problems
    assert problems[0].startswith("Line 3: respondent: no person has the e-mail or crm_id")
    assert problems[1] == (
        "Line 4: nps: Choose a whole number from 0 to 10. trust: Choose a whole number from 1 to 5."
    )
    assert problems[2].startswith("Line 5: account: our own people answer about an account")
    assert "submitted_at: '31/03/2024' is not a date" in problems[3]
    assert "survey: no survey has the key 'pulse'" in problems[3]
    assert problems[3].startswith("Line 6:")
    assert problems[4].startswith("Line 7: submitted_at: '2999-01-01' is in the future.")
    assert "external_id 'R-1' is on line 2" in problems[4]
    assert problems[5] == "Line 10: no answers: give at least one question column a value."
    assert len(problems) == 6  # the multi-line text on lines 8-9 is fine
    assert counts(session) == (0, 0)


def test_an_unknown_question_column_is_refused_at_the_header(session, scene):
    text = (
        "respondent,submitted_at,survey,nps,trst\n"
        "ada@contoso.test,2024-01-01,relationship-health,9,4\n"
    )
    with pytest.raises(ImportRejected) as caught:
        import_responses(session, text)
    assert caught.value.problems[0].startswith("Line 1: 'trst': neither a column of the import")


def test_a_missing_required_column_is_refused(session, scene):
    with pytest.raises(ImportRejected) as caught:
        import_responses(session, "respondent,nps\nada@contoso.test,9\n")
    assert caught.value.problems == [
        "Line 1: the required column 'submitted_at' is missing.",
        "Line 1: the required column 'survey' is missing.",
    ]


def test_multiple_choice_answers_are_separated_by_semicolons(session, scene):
    service.create_survey(
        session,
        key="channels",
        name="Channels",
        questions=[
            {
                "key": "channels",
                "type": "multi_choice",
                "text_external": "How do you reach {company}?",
                "text_internal": "How does {account} reach us?",
                "options": ["Email", "Phone", "Portal"],
            }
        ],
    )
    text = (
        "respondent,submitted_at,survey,channels\n"
        'bob@contoso.test,2024-01-01,channels,"Portal; Email"\n'
    )
    import_responses(session, text)
    answer = session.scalars(select(Answer)).one()
    assert answer.choices == ["Email", "Portal"]


def test_a_dry_run_counts_and_writes_nothing(session, scene):
    result = import_responses(session, GOOD, dry_run=True)
    assert result.created == 3
    assert [str(change).split(":")[0] for change in result.changes] == [
        "Line 2",
        "Line 3",
        "Line 4",
    ]
    assert counts(session) == (0, 0)


def test_the_command_imports_and_reports(app, session, scene, tmp_path):
    session.commit()
    path = tmp_path / "history.csv"
    path.write_text(GOOD, encoding="utf-8")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["import", "responses", str(path)])
    assert result.exit_code == 0, result.output
    assert "Imported responses: 3 created, 0 updated, 0 unchanged." in result.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text(GOOD.replace("ada@contoso.test", "ghost@contoso.test"), encoding="utf-8")
    refused = runner.invoke(args=["import", "responses", "--dry-run", str(bad)])
    assert refused.exit_code == 1
    assert "Line 2: respondent: no person" in refused.output
