"""The shipped templates: Relationship health and Partner two-way."""

import re

from sqlalchemy import func, select

from relhealth.surveys.builtin import BUILTIN_SURVEYS, DIMENSIONS, install_builtin_surveys
from relhealth.surveys.models import Question, QuestionType, Survey, SurveyVersion
from relhealth.surveys.service import latest_version


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_installing_twice_creates_each_template_once(session):
    created = install_builtin_surveys(session)
    assert {survey.key for survey in created} == {"relationship-health", "partner-two-way"}
    counts = (_count(session, Survey), _count(session, SurveyVersion), _count(session, Question))
    assert install_builtin_surveys(session) == []
    assert (
        _count(session, Survey),
        _count(session, SurveyVersion),
        _count(session, Question),
    ) == counts
    assert counts[:2] == (2, 2)


def test_an_edited_template_is_left_as_the_admin_made_it(session):
    install_builtin_surveys(session)
    survey = session.scalar(select(Survey).where(Survey.key == "partner-two-way"))
    survey.name = "Alliance pulse"
    install_builtin_surveys(session)
    assert survey.name == "Alliance pulse"
    assert _count(session, Survey) == 2


def test_relationship_health_asks_nps_the_seven_dimensions_and_two_open_questions(session):
    install_builtin_surveys(session)
    survey = session.scalar(select(Survey).where(Survey.key == "relationship-health"))
    questions = latest_version(session, survey).questions
    nps = questions[0]
    assert (nps.key, nps.type, nps.dimension) == ("nps", QuestionType.NPS, "overall")
    ratings = [q for q in questions if q.type == QuestionType.RATING]
    assert [q.dimension for q in ratings] == list(DIMENSIONS)
    assert all((q.scale_min, q.scale_max) == (1, 5) for q in ratings)
    texts = {q.text_external: q for q in questions if q.type == QuestionType.TEXT}
    assert "What should we do differently?" in texts
    helper = texts["Who at {company} has made a difference for you?"]
    assert "{account}" in helper.text_internal
    assert "{company}" in helper.text_internal
    assert not any(q.required for q in texts.values())


def test_every_question_of_both_templates_is_mirrored_with_known_placeholders():
    for template in BUILTIN_SURVEYS:
        keys = [q["key"] for q in template.questions]
        assert len(keys) == len(set(keys)), template.key
        for question in template.questions:
            external, internal = question["text_external"], question["text_internal"]
            assert external != internal or "{" not in external, question["key"]
            for text in (external, internal):
                assert set(re.findall(r"\{(\w+)\}", text)) <= {"company", "account"}


def test_partner_two_way_rates_the_same_dimensions_on_both_sides():
    [partner] = [t for t in BUILTIN_SURVEYS if t.key == "partner-two-way"]
    rated = [q for q in partner.questions if q["type"] in ("nps", "rating")]
    assert [q["dimension"] for q in rated] == ["overall", *DIMENSIONS]
    nps = rated[0]
    assert nps["text_external"].startswith("How likely are you to recommend working with")
    assert "{company}" in nps["text_external"]
    assert "{account}" in nps["text_internal"]
