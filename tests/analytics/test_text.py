"""Text answers: sentiment stored at submission, the backfill, themes and telling phrases."""

import datetime as dt
import json
import math
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from relhealth.analytics import text
from relhealth.analytics.frames import answers_frame
from relhealth.analytics.text import (
    DEFAULT_TAXONOMY,
    MAX_PHRASE_CHARS,
    PHRASE_COLUMNS,
    THEME_COLUMNS,
    TaxonomyError,
    load_taxonomy,
    sentiment,
    telling_phrases,
    themes,
)
from relhealth.config import ConfigError, load_settings
from relhealth.surveys import service
from relhealth.surveys.importer import import_responses
from relhealth.surveys.models import Answer
from tests import factories as f
from tests.surveys.conftest import form_data, full_answers

# Sentiment --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "sign"),
    [
        ("Your team is wonderful, always helpful and quick to respond.", 1),
        ("Great quarterly reviews, thank you!", 1),
        ("Support was terrible and the invoices were wrong again.", -1),
        ("We are frustrated: nobody answers and deadlines slip.", -1),
        ("Fewer hand-offs between teams.", 0),
        ("More calls", 0),
    ],
)
def test_sentiment_has_the_sign_of_what_was_said(answer, sign):
    score = sentiment(answer)
    assert -1 <= score <= 1
    if sign == 0:
        assert score == 0
    else:
        assert math.copysign(1, score) == sign
        assert abs(score) > 0.3


@pytest.mark.parametrize("blank", [None, "", "   \n\t"])
def test_no_text_has_no_sentiment(blank):
    assert sentiment(blank) is None


def test_unicode_and_the_longest_answer_are_scored():
    assert sentiment("Das Team ist großartig 😀 — 価格は高い — שלום") > 0  # the emoji
    assert sentiment("😞😞") < 0
    longest = ("The onboarding was slow, but your people are great. " * 100)[
        : service.MAX_TEXT_LENGTH
    ]
    assert -1 <= sentiment(longest) <= 1
    assert sentiment("\x00\u200b\ufeff") == 0


TRICKY = [
    "not good",
    "never so good",
    "without doubt the best",
    "kind of great",
    "the bomb",
    "yeah right, great support",
    "at least it works",
    "least helpful",
    "no problems at all",
    "It is NOT bad but it is not GREAT either!!!",
    "The team is sort of ok but the pricing is the shit",
    "This was a kiss of death for the project :(",
]
VOCABULARY = sorted(
    {word for sentence in TRICKY for word in sentence.replace(",", " ").split()}
    | {"good", "bad", "terrible", "very", "extremely", "but", "!", "?", ":)", "this", "so"}
)


@pytest.mark.parametrize("answer", TRICKY)
def test_the_linear_time_analyzer_scores_exactly_as_vader_does(answer):
    stock = SentimentIntensityAnalyzer()
    assert text._vader().polarity_scores(answer) == stock.polarity_scores(answer)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=60))
def test_the_linear_time_analyzer_agrees_with_vader_on_any_word_sequence(words):
    answer = " ".join(words)
    assert text._vader().polarity_scores(answer) == _STOCK.polarity_scores(answer)


_STOCK = SentimentIntensityAnalyzer()


# Stored at submission ---------------------------------------------------------------------------


def _text_answers(session) -> dict[str, float | None]:
    query = select(Answer.text, Answer.sentiment).where(Answer.text.is_not(None))
    return dict(session.execute(query).all())


def test_submitting_a_response_stores_the_sentiment_of_its_text_answer(session):
    invitation = f.InvitationFactory()
    said = "Brilliant people, but the invoices are always late."
    response = service.submit_response(session, invitation, full_answers(do_differently=said))
    answers = {a.question_key: a for a in response.answers}
    assert answers["do_differently"].sentiment == pytest.approx(sentiment(said))
    assert answers["do_differently"].sentiment != 0
    assert answers["nps"].sentiment is None  # numbers have none
    assert _text_answers(session) == {said: pytest.approx(sentiment(said))}


def test_the_json_endpoint_and_the_form_store_the_sentiment(client, session):
    by_json, by_form = f.InvitationFactory(), f.InvitationFactory()
    session.commit()
    sent = client.post(
        f"/api/v1/responses/submit/{by_json.token}",
        json={"answers": full_answers(do_differently="Awful, slow support.")},
    )
    assert sent.status_code == 201, sent.get_json()
    posted = client.post(
        f"/s/{by_form.token}", data=form_data(do_differently="Lovely team, superb work!")
    )
    assert posted.status_code == 303
    stored = _text_answers(session)
    assert stored["Awful, slow support."] < 0
    assert stored["Lovely team, superb work!"] > 0


def test_importing_historical_responses_stores_the_sentiment(session):
    account = f.AccountFactory(name="Contoso", crm_id="ACC-1")
    f.PersonFactory(account=account, email="ada@contoso.test")
    f.PersonFactory(account=account, email="bob@contoso.test")
    f.builtin_survey()
    import_responses(
        session,
        "respondent,submitted_at,survey,nps,do_differently\n"
        "ada@contoso.test,2024-03-31,relationship-health,9,Excellent advice and great people\n"
        'bob@contoso.test,2024-03-31,relationship-health,3,"Disappointing and sloppy work."\n',
    )
    stored = _text_answers(session)
    assert stored["Excellent advice and great people"] > 0.5
    assert stored["Disappointing and sloppy work."] < 0


# The backfill -----------------------------------------------------------------------------------


def test_rescore_text_scores_only_answers_without_a_sentiment_in_batches(app, session):
    said = ["Great work.", "Terrible delays.", "Fine.", "Awesome people!"]
    for answer in said:
        service.submit_response(session, f.InvitationFactory(), full_answers(do_differently=answer))
    expected = _text_answers(session)
    session.execute(update(Answer).values(sentiment=None))  # as stored before this change
    session.execute(
        update(Answer).where(Answer.text == "Fine.").values(text="   ")
    )  # nothing to score: stays empty, and the run still ends
    session.execute(
        update(Answer).where(Answer.text == "Great work.").values(sentiment=0.123)
    )  # already scored: left alone
    session.commit()

    result = app.test_cli_runner().invoke(args=["analytics", "rescore-text", "--batch-size", "2"])

    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == "Scored 2 text answers."
    stored = _text_answers(session)
    assert stored["Terrible delays."] == pytest.approx(expected["Terrible delays."])
    assert stored["Awesome people!"] == pytest.approx(expected["Awesome people!"])
    assert stored["Great work."] == 0.123
    assert stored["   "] is None
    again = app.test_cli_runner().invoke(args=["analytics", "rescore-text"])
    assert again.stdout.strip() == "Scored 0 text answers."


def test_the_backfill_service_yields_a_count_per_batch(session):
    for _ in range(5):
        service.submit_response(
            session, f.InvitationFactory(), full_answers(do_differently="Good.")
        )
    session.execute(update(Answer).values(sentiment=None))
    assert list(service.rescore_text_answers(session, batch_size=2)) == [2, 2, 1]
    assert list(service.rescore_text_answers(session, batch_size=2)) == []


# Themes -----------------------------------------------------------------------------------------

WAVE_1 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
WAVE_2 = dt.datetime(2024, 4, 1, tzinfo=dt.UTC)


def row(response_id, person_id, account_id, said, score, *, wave=1, k=1, question_type="text"):
    return {
        "response_id": response_id,
        "person_id": person_id,
        "account_id": account_id,
        "program_id": 1,
        "wave_id": wave,
        "wave_at": WAVE_1 if wave == 1 else WAVE_2,
        "side": "external",
        "seniority": "manager",
        "is_top": False,
        "question_key": "do_differently" if question_type == "text" else "nps",
        "question_type": question_type,
        "dimension": None if question_type == "text" else "overall",
        "value": None if question_type == "text" else 9.0,
        "scaled": None if question_type == "text" else 90.0,
        "text": said,
        "sentiment": score,
        "k": k,
    }


@pytest.fixture
def answers():
    """Account 1 open (k=1); account 2 confidential (k=3)."""
    return answers_frame(
        [
            row(1, 1, 1, "Your team is wonderful. Pricing is far too expensive!", 0.2),
            row(2, 2, 1, "Slow responses from support.", -0.3),
            row(3, 1, 1, "Support was quick and helpful.", 0.6, wave=2),
            row(4, 3, 1, "Support: terrible.", -0.5, wave=2),
            row(5, 3, 1, "Great onboarding", None, wave=2),  # stored before scoring
            row(3, 1, 1, None, None, wave=2, question_type="nps"),
            row(10, 10, 2, "Pricing is unclear. Support is slow.", -0.4, k=3),
            row(11, 11, 2, "The pricing is fair.", 0.5, k=3),
            row(12, 12, 2, "Pricing went up again", 0.0, k=3),
        ]
    )


def test_themes_count_mentions_respondents_sentiment_and_negatives_per_account(answers):
    found = themes(answers, DEFAULT_TAXONOMY)
    assert list(found.columns) == list(THEME_COLUMNS)
    table = {
        (r.account_id, r.theme): (r.mentions, r.respondents, r.sentiment, r.share_negative)
        for r in found.itertuples()
    }
    onboarding = sentiment("Great onboarding")
    assert table == {
        (1, "support"): (3, 3, pytest.approx((-0.3 + 0.6 - 0.5) / 3), pytest.approx(2 / 3)),
        (1, "responsiveness"): (2, 2, pytest.approx(0.15), 0.5),
        (1, "onboarding"): (1, 1, pytest.approx(onboarding), 0.0),
        (1, "people"): (1, 1, 0.2, 0.0),
        (1, "pricing"): (1, 1, 0.2, 0.0),  # named twice in one answer: one mention
        # Account 2 is confidential (k=3): only pricing was raised by three people.
        (2, "pricing"): (3, 3, pytest.approx(0.1 / 3), pytest.approx(1 / 3)),
    }
    assert [t for a, t in zip(found.account_id, found.theme, strict=True) if a == 1] == [
        "support",
        "responsiveness",
        "onboarding",
        "people",
        "pricing",
    ]  # most mentioned first, then by name


def test_telling_phrases_rank_by_strength_of_feeling_within_a_theme(answers):
    phrases = telling_phrases(answers, DEFAULT_TAXONOMY, limit=2)
    assert list(phrases.columns) == list(PHRASE_COLUMNS)
    support = phrases[(phrases.account_id == 1) & (phrases.theme == "support")]
    assert list(support.phrase) == ["Support was quick and helpful.", "Support: terrible."]
    assert list(support["rank"]) == [1, 2]
    assert list(support.sentiment) == [0.6, -0.5]
    assert list(support.person_id) == [1, 3]
    assert list(support.wave_at) == [WAVE_2, WAVE_2]
    # The sentence naming the theme, scored on its own, not the whole answer.
    [pricing] = phrases[(phrases.account_id == 1) & (phrases.theme == "pricing")].itertuples()
    assert pricing.phrase == "Pricing is far too expensive!"
    assert pricing.sentiment == pytest.approx(sentiment("Pricing is far too expensive!"))


def test_a_confidential_program_keeps_people_out_of_phrases_and_small_themes_out(answers):
    phrases = telling_phrases(answers, DEFAULT_TAXONOMY, limit=5)
    mine = phrases[phrases.account_id == 2]
    assert set(mine.theme) == {"pricing"}  # support, responsiveness: one person, k is 3
    assert mine.person_id.isna().all()
    assert list(mine.phrase) == [
        "The pricing is fair.",
        "Pricing is unclear.",
        "Pricing went up again",
    ]
    assert phrases[phrases.account_id == 1].person_id.notna().all()


def test_the_same_sentence_counts_once_and_ties_go_to_the_most_recent():
    frame = answers_frame(
        [
            row(1, 1, 7, "Great support.", 0.6),
            row(2, 2, 7, "Good support.", 0.6, wave=2),
            row(3, 1, 7, "great  SUPPORT.", 0.6, wave=2),
        ]
    )
    phrases = telling_phrases(frame, {"support": ["support"]})
    assert list(phrases.phrase) == ["great  SUPPORT.", "Good support."]
    assert list(phrases.wave_at) == [WAVE_2, WAVE_2]


def test_keywords_match_whole_words_in_any_case_with_stems_and_joined_words():
    taxonomy = {
        "responsiveness": ["respon*"],
        "communication": ["hand-off*"],
        "pricing": ["price"],
    }
    said = [
        "RESPONSIVE people",
        "their response time",
        "irresponsible, not responsive",
        "too many handoffs",
        "every hand off hurts",
        "priceless",  # not the word price
        "the price, the PRICE!",
    ]
    frame = answers_frame([row(i, i, 1, s, 0.0) for i, s in enumerate(said, start=1)])
    found = themes(frame, taxonomy).set_index("theme")
    assert found.loc["responsiveness", "mentions"] == 3
    assert found.loc["communication", "mentions"] == 2
    assert found.loc["pricing", "mentions"] == 1


PIECES = sorted(
    {"Hand", "off", "handoffs", "value", "for", "MONEY", "e", "mail", "e-mail", "on", "time"}
    | {"respond", "Irresponsible", "pricing", "priceless", "know", "knows", "our", "business"}
    | {"team", "teamwork", "Support", "go", "live", "GoLive", "ontime", "emails", "ÉQUIPE", "x"}
)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=12), st.sampled_from([" ", "-", ". ", "\n"]))
def test_matching_by_words_finds_what_the_keyword_expressions_find(pieces, glue):
    said = glue.join(pieces)
    matchers = text._matchers(DEFAULT_TAXONOMY)
    hits = text._theme_hits(pd.Series([said, "-"]), matchers)
    expected = {m.theme for m in matchers if m.pattern.search(said)}
    assert set(hits[hits.row == 0].theme) == expected
    assert hits[hits.row == 1].empty


def test_no_text_gives_empty_tables_with_every_column():
    numbers = answers_frame([row(1, 1, 1, None, None, question_type="nps")])
    for frame in (numbers, answers_frame([])):
        assert themes(frame).empty
        assert list(themes(frame).columns) == list(THEME_COLUMNS)
        assert telling_phrases(frame).empty
        assert dict(telling_phrases(frame).dtypes.astype(str)) == {
            c: str(pd.Series(dtype=t).dtype) for c, t in PHRASE_COLUMNS.items()
        }


def test_a_long_sentence_is_cut_to_a_window_around_its_keyword():
    words = " ".join(f"word{i}" for i in range(800))
    said = f"{words} the pricing hurts {words}"
    frame = answers_frame([row(1, 1, 1, said, -0.2)])
    [phrase] = telling_phrases(frame, {"pricing": ["pric*"]}).phrase
    assert len(phrase) <= MAX_PHRASE_CHARS + 2
    assert "the pricing hurts" in phrase
    assert phrase.startswith("…")
    assert phrase.endswith("…")
    assert " word" in phrase  # cut between words
    assert not phrase[1:].startswith("ord")


def test_unicode_text_is_matched_and_returned_raw():
    said = "L'équipe est géniale 👍. <b>Pricing</b> & «fees» — 高すぎる!"
    frame = answers_frame([row(1, 1, 1, said, None)])
    found = themes(frame)
    assert set(found.theme) >= {"pricing"}
    phrases = telling_phrases(frame)
    assert "<b>Pricing</b> & «fees» — 高すぎる!" in set(phrases.phrase)  # not escaped


def test_limit_must_be_positive(answers):
    with pytest.raises(ValueError, match="at least 1"):
        telling_phrases(answers, limit=0)


# Taxonomy files ---------------------------------------------------------------------------------


def test_a_themes_file_replaces_the_default_taxonomy(tmp_path, answers):
    path = tmp_path / "themes.json"
    path.write_text(json.dumps({"money": ["pric*", "invoice*"], "help": ["support"]}))
    taxonomy = load_taxonomy(path)
    assert taxonomy == {"money": ("pric*", "invoice*"), "help": ("support",)}
    assert set(themes(answers, taxonomy).theme) == {"money", "help"}
    assert load_taxonomy("") == DEFAULT_TAXONOMY
    assert load_taxonomy(None) == DEFAULT_TAXONOMY


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"pricing": ["price"', "not valid JSON (line 1, column 21: Expecting ',' delimiter)"),
        ('["price"]', "expected a JSON object mapping each theme to a list of keywords"),
        ("{}", "expected a JSON object"),
        ('{"pricing": []}', "theme 'pricing' needs a non-empty list of keywords"),
        ('{"pricing": "price"}', "theme 'pricing' needs a non-empty list of keywords"),
        ('{"pricing": ["price", 3]}', "theme 'pricing' has a keyword that is not a word"),
        ('{"pricing": ["pr*ce"]}', "may end in one * (any ending)"),
        ('{"pricing": ["*"]}', "each word needs a letter or digit"),
        ('{"": ["price"]}', "a theme name must be a non-empty string"),
        ('{"pricing": ["a"], "pricing": ["b"]}', "theme 'pricing' appears twice"),
    ],
)
def test_a_bad_themes_file_is_refused_with_what_is_wrong(tmp_path, content, message):
    path = tmp_path / "themes.json"
    path.write_text(content)
    with pytest.raises(TaxonomyError) as error:
        load_taxonomy(path)
    assert str(error.value).startswith(f"themes file {path}: ")
    assert message in str(error.value)


def test_a_missing_or_unreadable_themes_file_is_refused(tmp_path):
    with pytest.raises(TaxonomyError, match="cannot be read"):
        load_taxonomy(tmp_path / "nope.json")
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes('{"prix": ["coût"]}'.encode("latin-1"))
    with pytest.raises(TaxonomyError, match="cannot be read"):
        load_taxonomy(latin1)


def test_the_setting_is_checked_when_the_settings_are_read(tmp_path):
    bad = tmp_path / "themes.json"
    bad.write_text('{"pricing": []}')
    with pytest.raises(ConfigError, match=r"^RELHEALTH_THEMES_FILE: themes file .*non-empty"):
        load_settings({"RELHEALTH_THEMES_FILE": str(bad)})
    bad.write_text('{"pricing": ["price"]}')
    assert load_settings({"RELHEALTH_THEMES_FILE": str(bad)})["THEMES_FILE"] == str(bad)
    assert load_settings({})["THEMES_FILE"] == ""


def test_the_default_taxonomy_is_valid_and_names_the_usual_themes():
    assert load_taxonomy(None) == text.validate_taxonomy(DEFAULT_TAXONOMY)
    assert {
        "responsiveness",
        "pricing",
        "quality",
        "people",
        "onboarding",
        "communication",
        "expertise",
        "reliability",
        "support",
        "strategy",
    } <= set(DEFAULT_TAXONOMY)


def test_the_text_module_imports_neither_flask_nor_sqlalchemy():
    source = Path(text.__file__).read_text(encoding="utf-8")
    imported = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert not [line for line in imported if "flask" in line or "sqlalchemy" in line]
