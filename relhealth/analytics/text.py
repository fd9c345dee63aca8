"""Free-text answers: their sentiment, the themes they touch, and the sentences that tell most.

``sentiment`` is VADER's compound score (-1..1), computed once when a response is stored and
kept on the answer. ``themes`` and ``telling_phrases`` are pure functions of an answers frame
(``frames.ANSWER_COLUMNS``) and a **taxonomy**: theme name -> keywords, matched
case-insensitively on whole words. A keyword is a word or a phrase; a ``*`` at the end of a word
stands for any ending (``respon*`` matches respond, response, responsive), and a space or hyphen
between words also matches the other or nothing (``hand-off`` matches hand off and handoff).
The default taxonomy is ``DEFAULT_TAXONOMY``; ``load_taxonomy`` reads another from a JSON file
(the ``RELHEALTH_THEMES_FILE`` setting).
"""

import functools
import json
import os
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

Taxonomy = Mapping[str, Sequence[str]]

# VADER's own convention: a compound score at or below this is negative.
NEGATIVE_AT = -0.05
# A telling phrase longer than this is cut to a window around its keyword.
MAX_PHRASE_CHARS = 300

DEFAULT_TAXONOMY: dict[str, tuple[str, ...]] = {
    "responsiveness": (
        "respond*",
        "response",
        "responses",
        "responsive*",
        "unresponsive*",
        "reply",
        "replies",
        "replied",
        "answer*",
        "turnaround",
        "quick*",
        "fast*",
        "slow*",
        "wait*",
        "prompt*",
        "speed",
    ),
    "pricing": (
        "pric*",
        "cost*",
        "expensive",
        "cheap*",
        "fee",
        "fees",
        "invoic*",
        "billing",
        "budget*",
        "discount*",
        "rate card*",
        "value for money",
        "renewal*",
    ),
    "quality": (
        "quality",
        "defect*",
        "bug",
        "bugs",
        "buggy",
        "error*",
        "mistake*",
        "rework",
        "sloppy",
        "accura*",
        "inaccura*",
        "thorough*",
        "polish*",
    ),
    "people": (
        "team*",
        "staff",
        "people",
        "consultant*",
        "engineer*",
        "account manager*",
        "colleague*",
        "turnover",
        "friendly",
        "attitude",
        "professional*",
        "unprofessional*",
    ),
    "onboarding": (
        "onboard*",
        "on-board*",
        "kick-off*",
        "implementation*",
        "roll-out*",
        "go-live",
        "set-up",
        "training*",
        "ramp-up",
        "migration*",
        "transition*",
    ),
    "communication": (
        "communicat*",
        "update*",
        "inform*",
        "clear*",
        "unclear",
        "transparen*",
        "hand-off*",
        "handover*",
        "e-mail*",
        "call",
        "calls",
        "meeting*",
        "listen*",
        "report*",
        "check-in*",
        "review*",
        "repeat ourselves",
    ),
    "expertise": (
        "expert*",
        "knowledg*",
        "know* our business",
        "understand* our",
        "skill*",
        "experienced",
        "insight*",
        "best practice*",
        "industry",
        "competen*",
        "incompeten*",
        "technical",
    ),
    "reliability": (
        "reliab*",
        "unreliab*",
        "dependab*",
        "consisten*",
        "inconsisten*",
        "deadline*",
        "on time",
        "late",
        "delay*",
        "commitment*",
        "promise*",
        "deliver*",
        "outage*",
        "downtime",
        "breaks",
        "broke*",
        "stabl*",
        "stability",
    ),
    "support": (
        "support*",
        "help desk",
        "service desk",
        "ticket*",
        "escalat*",
        "incident*",
        "issue*",
        "troubleshoot*",
        "fix*",
        "resolv*",
        "resolution*",
    ),
    "strategy": (
        "strateg*",
        "roadmap*",
        "vision",
        "long-term",
        "future",
        "innovat*",
        "proactiv*",
        "ideas",
        "business goals",
        "objectives",
        "priorit*",
        "partnership*",
        "growth",
        "plan",
        "plans",
        "planning",
    ),
}

# Columns of the results, in order, with their dtypes.
THEME_COLUMNS: dict[str, str] = {
    "account_id": "int64",
    "theme": "string",
    "mentions": "int64",
    "respondents": "int64",
    "sentiment": "float64",
    "share_negative": "float64",
}
PHRASE_COLUMNS: dict[str, str] = {
    "account_id": "int64",
    "theme": "string",
    "rank": "int64",
    "phrase": "string",  # raw text: escape it where it is shown
    "sentiment": "float64",
    "wave_id": "Int64",
    "wave_at": "datetime64[us, UTC]",
    "question_key": "string",
    "person_id": "Int64",  # <NA> in a confidential program
}


class TaxonomyError(ValueError):
    """A theme taxonomy (or the file holding it) is not what ``load_taxonomy`` expects."""


# Sentiment --------------------------------------------------------------------------------------


class _Analyzer(SentimentIntensityAnalyzer):
    """VADER, same scores, in time linear in the length of the text.

    VADER's negation and idiom checks lower-case the whole text for every word, which makes a
    5,000-character answer take ~70 ms. Both read at most three words before the current one
    and two after, so they get that window instead (``test_text`` checks the scores agree).
    """

    @staticmethod
    def _negation_check(valence, words_and_emoticons, start_i, i):
        if i < 3:
            return SentimentIntensityAnalyzer._negation_check(
                valence, words_and_emoticons, start_i, i
            )
        window = words_and_emoticons[i - 3 : i + 1]
        return SentimentIntensityAnalyzer._negation_check(valence, window, start_i, 3)

    @staticmethod
    def _special_idioms_check(valence, words_and_emoticons, i):
        if i < 3:
            return SentimentIntensityAnalyzer._special_idioms_check(valence, words_and_emoticons, i)
        window = words_and_emoticons[i - 3 : i + 3]
        return SentimentIntensityAnalyzer._special_idioms_check(valence, window, 3)


_analyzer: SentimentIntensityAnalyzer | None = None
_analyzer_lock = threading.Lock()


def _vader() -> SentimentIntensityAnalyzer:
    """The one analyzer, made on first use: reading VADER's lexicon takes about 30 ms."""
    global _analyzer
    if _analyzer is None:
        with _analyzer_lock:
            if _analyzer is None:
                _analyzer = _Analyzer()
    return _analyzer


def sentiment(text: str | None) -> float | None:
    """VADER's compound score of a free-text answer, -1 (negative) .. 1 (positive).

    None when there is no text to judge (None, empty or only whitespace). Stored on the answer
    when a response is submitted or imported, so analytics never recompute it.
    """
    if text is None or not text.strip():
        return None
    return float(_vader().polarity_scores(text)["compound"])


# Taxonomies -------------------------------------------------------------------------------------

_KEYWORD_PART = re.compile(r"[^\s\-]+")


def _keyword_pattern(keyword: str) -> str:
    parts = []
    for word in _KEYWORD_PART.findall(keyword):
        stem = word.endswith("*")
        parts.append(re.escape(word.rstrip("*")) + (r"\w*" if stem else ""))
    return r"[\s\-]*".join(parts)


def _check_keyword(theme: str, keyword: Any, where: str) -> str:
    if not isinstance(keyword, str) or not keyword.strip():
        raise TaxonomyError(f"{where}: theme {theme!r} has a keyword that is not a word or phrase")
    for word in _KEYWORD_PART.findall(keyword):
        core = word.rstrip("*")
        if "*" in core or not re.search(r"\w", core):
            raise TaxonomyError(
                f"{where}: theme {theme!r}, keyword {keyword!r}: each word needs a letter or digit"
                " and may end in one * (any ending)"
            )
    return keyword.strip()


def validate_taxonomy(raw: Any, where: str = "taxonomy") -> dict[str, tuple[str, ...]]:
    """Check a taxonomy (theme name -> non-empty list of keywords) and return it as tuples.

    Raises TaxonomyError naming ``where`` and the theme at fault.
    """
    if not isinstance(raw, Mapping) or not raw:
        raise TaxonomyError(
            f"{where}: expected a JSON object mapping each theme to a list of keywords,"
            ' e.g. {"pricing": ["pric*", "cost*"]}'
        )
    checked: dict[str, tuple[str, ...]] = {}
    for theme, keywords in raw.items():
        if not isinstance(theme, str) or not theme.strip():
            raise TaxonomyError(f"{where}: a theme name must be a non-empty string")
        if isinstance(keywords, str) or not isinstance(keywords, Sequence) or not keywords:
            raise TaxonomyError(f"{where}: theme {theme!r} needs a non-empty list of keywords")
        checked[theme.strip()] = tuple(_check_keyword(theme, k, where) for k in keywords)
    return checked


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise TaxonomyError(f"theme {key!r} appears twice")
    return dict(pairs)


def load_taxonomy(path: str | os.PathLike | None) -> dict[str, tuple[str, ...]]:
    """The taxonomy in the JSON file at ``path``; ``DEFAULT_TAXONOMY`` when ``path`` is empty.

    The file holds one object: ``{"theme": ["keyword", "phrase", "stem*"], ...}``; it replaces
    the default taxonomy entirely. Raises TaxonomyError, naming the file, when it cannot be
    read or is not such an object.
    """
    if path is None or str(path) == "":
        return dict(DEFAULT_TAXONOMY)
    where = f"themes file {os.fspath(path)}"
    try:
        content = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise TaxonomyError(f"{where}: cannot be read ({error})") from None
    try:
        raw = json.loads(content, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as error:
        raise TaxonomyError(
            f"{where}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from None
    except TaxonomyError as error:
        raise TaxonomyError(f"{where}: {error}") from None
    return validate_taxonomy(raw, where)


_PLAIN_KEYWORD = re.compile(r"^\w+\*?$")
_WORD = r"\w+"


@dataclass(frozen=True)
class _Matcher:
    """One theme's keywords, ready to match.

    Answers are split into words once: a plain keyword (one word, or one stem) is a set or
    prefix look-up per distinct word. Only the other keywords (phrases, hyphenated words) need
    a regular expression, run on the answers holding a word that starts like their first word.
    """

    theme: str
    words: frozenset[str]  # plain keywords, lower case
    stems: tuple[str, ...]  # plain keywords ending in *, without it, lower case
    lead_words: frozenset[str]  # a text naming one of the other keywords has one of these
    lead_stems: tuple[str, ...]  # words, or a word starting with one of these (lower case)
    others: re.Pattern | None  # the other keywords
    pattern: re.Pattern  # every keyword: finds where a sentence names the theme


_LEAD = re.compile(r"\W*(\w+)(\*?)(?:[\s\-]+(\w+))?")


def _leads(keywords: Sequence[str]) -> tuple[frozenset[str], tuple[str, ...]]:
    """What a word of a text naming one of ``keywords`` is: one of the words, or starts with one
    of the stems. ``hand-off*`` is named by "hand" (hand-offs) or a word starting "handoff"."""
    words, stems = set(), []
    for keyword in keywords:
        first, stem, second = _LEAD.match(keyword).groups()
        if stem or second is None:
            stems.append(first.lower())
        else:
            words.add(first.lower())
            stems.append((first + second).lower())
    return frozenset(words), tuple(stems)


def _regex(keywords: Sequence[str]) -> re.Pattern:
    alternatives = "|".join(_keyword_pattern(k) for k in keywords)
    return re.compile(r"(?<!\w)(?:" + alternatives + r")(?!\w)", re.IGNORECASE)


@functools.lru_cache(maxsize=16)
def _compiled(taxonomy: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[_Matcher, ...]:
    matchers = []
    for theme, keywords in taxonomy:
        plain = [k.lower() for k in keywords if _PLAIN_KEYWORD.match(k)]
        others = [k for k in keywords if not _PLAIN_KEYWORD.match(k)]
        lead_words, lead_stems = _leads(others)
        matchers.append(
            _Matcher(
                theme=theme,
                words=frozenset(k for k in plain if not k.endswith("*")),
                stems=tuple(k[:-1] for k in plain if k.endswith("*")),
                lead_words=lead_words,
                lead_stems=lead_stems,
                others=_regex(others) if others else None,
                pattern=_regex(keywords),
            )
        )
    return tuple(matchers)


def _matchers(taxonomy: Taxonomy | None) -> tuple[_Matcher, ...]:
    checked = validate_taxonomy(DEFAULT_TAXONOMY if taxonomy is None else taxonomy)
    return _compiled(tuple(checked.items()))


def _theme_hits(texts: pd.Series, matchers: Sequence[_Matcher]) -> pd.DataFrame:
    """``row`` (position in ``texts``) and ``theme`` for each text and each theme it names."""
    said = texts.to_numpy(dtype=object)
    words = pd.Series(said).str.findall(_WORD).explode().dropna()
    named: dict[str, list[str]] = {}  # distinct word -> themes it names for sure
    maybe: dict[str, list[int]] = {}  # distinct word -> matchers whose phrases it may start
    for word in words.unique():
        low = word.lower()
        named[word] = [m.theme for m in matchers if low in m.words or low.startswith(m.stems)]
        maybe[word] = [
            i for i, m in enumerate(matchers) if low in m.lead_words or low.startswith(m.lead_stems)
        ]
    sure = words.map(named).explode().dropna()
    hits = [pd.DataFrame({"row": sure.index.to_numpy(), "theme": sure.to_numpy()})]
    candidates = words.map(maybe).explode().dropna()
    pairs = set(zip(candidates.index, candidates, strict=True))
    if pairs:
        found = [
            (row, matchers[i].theme)
            for row, i in pairs
            if matchers[i].others.search(said[row]) is not None
        ]
        hits.append(pd.DataFrame(found, columns=["row", "theme"]))
    return pd.concat(hits, ignore_index=True).drop_duplicates().astype({"row": "int64"})


# Themes -----------------------------------------------------------------------------------------


def _text_answers(answers: pd.DataFrame) -> pd.DataFrame:
    """The answers that carry text, with a sentiment (computed for rows stored before it was)."""
    texts = answers[
        (answers["question_type"] == "text")
        & answers["text"].notna()
        & (answers["text"].fillna("").str.strip() != "")
    ].copy()
    missing = texts["sentiment"].isna()
    if missing.any():
        texts.loc[missing, "sentiment"] = texts.loc[missing, "text"].map(sentiment)
    texts["sentiment"] = texts["sentiment"].astype("float64")
    return texts


def _mentions(texts: pd.DataFrame, matchers: Sequence[_Matcher]) -> pd.DataFrame:
    """One row per (text answer, theme it names), the theme in column ``theme``."""
    hits = _theme_hits(texts["text"], matchers)
    mentions = texts.iloc[hits["row"].to_numpy()].reset_index(drop=True)
    return mentions.assign(theme=hits["theme"].astype("string").to_numpy())


def _listed(mentions: pd.DataFrame) -> pd.DataFrame:
    """Per account and theme, the counts, and whether confidentiality lets it be listed."""
    counts = (
        mentions.assign(negative=mentions["sentiment"] <= NEGATIVE_AT)
        .groupby(["account_id", "theme"], sort=True)
        .agg(
            mentions=("response_id", "size"),
            respondents=("person_id", "nunique"),
            sentiment=("sentiment", "mean"),
            share_negative=("negative", "mean"),
            k=("k", "max"),
        )
        .reset_index()
    )
    # In a confidential program a theme fewer than k people raised could point at them.
    return counts[counts["respondents"] >= counts["k"]]


def themes(answers: pd.DataFrame, taxonomy: Taxonomy | None = None) -> pd.DataFrame:
    """What each account's free-text answers talk about, and how they feel about it.

    Per ``account_id`` and ``theme``: ``mentions`` (text answers naming the theme at least
    once), ``respondents`` (distinct people among them), ``sentiment`` (mean compound score of
    those answers) and ``share_negative`` (share of them at or below ``NEGATIVE_AT``). A theme
    raised by fewer than k respondents of a confidential program is not listed. Sorted by
    account, most mentioned first. ``taxonomy`` defaults to ``DEFAULT_TAXONOMY``.
    """
    mentions = _mentions(_text_answers(answers), _matchers(taxonomy))
    if mentions.empty:
        return _empty(THEME_COLUMNS)
    listed = _listed(mentions)
    listed = listed.sort_values(
        ["account_id", "mentions", "theme"], ascending=[True, False, True], kind="stable"
    )
    return _typed(listed, THEME_COLUMNS)


# Telling phrases --------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\s*\n\s*")


def sentences(text: str) -> list[str]:
    """The sentences of a text: split after . ! ? … followed by space, and at line breaks."""
    return [part.strip() for part in _SENTENCE_END.split(text) if part and part.strip()]


def _window(sentence: str, match: re.Match) -> str:
    """The sentence, or a window of it around the keyword when it is too long to show."""
    if len(sentence) <= MAX_PHRASE_CHARS:
        return sentence
    half = (MAX_PHRASE_CHARS - len(match.group())) // 2
    start = max(0, match.start() - half)
    end = min(len(sentence), start + MAX_PHRASE_CHARS)
    start = max(0, end - MAX_PHRASE_CHARS)
    # Cut on whitespace, not inside a word.
    if start > 0:
        space = sentence.find(" ", start, match.start())
        start = space + 1 if space != -1 else start
    if end < len(sentence):
        space = sentence.rfind(" ", match.end(), end)
        end = space if space != -1 else end
    return (
        ("…" if start > 0 else "")
        + sentence[start:end].strip()
        + ("…" if end < len(sentence) else "")
    )


def telling_phrases(
    answers: pd.DataFrame, taxonomy: Taxonomy | None = None, limit: int = 3
) -> pd.DataFrame:
    """The most telling sentences per account and theme: the strongest feelings, recent first.

    Each candidate is a sentence of a text answer that names the theme; they are ranked by
    the absolute sentiment of the sentence (strongest first), then by recency (``wave_at``,
    then the response), and the same sentence said again counts once. Columns
    ``PHRASE_COLUMNS``, ``rank`` 1..``limit``. A sentence longer than ``MAX_PHRASE_CHARS`` is
    cut to a window around its keyword.

    The text is returned raw, as the respondent typed it: escaping it is the renderer's job
    (HTML, CSV, PDF each escape their own way). In a confidential program (k > 1) phrases
    carry no ``person_id``, and a theme is listed for an account only when at least k people
    raised it (the same rule as ``themes``).
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    matchers = _matchers(taxonomy)
    patterns = {m.theme: m.pattern for m in matchers}
    mentions = _mentions(_text_answers(answers), matchers)
    if mentions.empty:
        return _empty(PHRASE_COLUMNS)
    listed = _listed(mentions)[["account_id", "theme"]]
    mentions = mentions.merge(listed, on=["account_id", "theme"], how="inner")

    split: dict[str, list[str]] = {}  # an answer's sentences, split once for all its themes
    scored: dict[str, float | None] = {}
    rows = []
    for row in mentions.itertuples(index=False):
        pattern = patterns[row.theme]
        whole = row.text.strip()
        if row.text not in split:
            split[row.text] = sentences(row.text)
        for sentence in split[row.text]:
            match = pattern.search(sentence)
            if match is None:
                continue
            if sentence == whole:
                score = row.sentiment
            else:
                if sentence not in scored:
                    scored[sentence] = sentiment(sentence)
                score = scored[sentence]
            rows.append(
                {
                    "account_id": row.account_id,
                    "theme": row.theme,
                    "phrase": _window(sentence, match),
                    "sentiment": score,
                    "strength": abs(score),
                    "same": " ".join(sentence.casefold().split()),
                    "wave_id": row.wave_id,
                    "wave_at": row.wave_at,
                    "response_id": row.response_id,
                    "question_key": row.question_key,
                    "person_id": pd.NA if row.k > 1 else row.person_id,
                }
            )
    if not rows:
        return _empty(PHRASE_COLUMNS)
    phrases = pd.DataFrame.from_records(rows).sort_values(
        ["account_id", "theme", "strength", "wave_at", "response_id"],
        ascending=[True, True, False, False, False],
        kind="stable",
    )
    phrases = phrases.drop_duplicates(["account_id", "theme", "same"])
    phrases["rank"] = phrases.groupby(["account_id", "theme"]).cumcount() + 1
    phrases = phrases[phrases["rank"] <= limit]
    return _typed(phrases, PHRASE_COLUMNS)


def _typed(frame: pd.DataFrame, columns: Mapping[str, str]) -> pd.DataFrame:
    return frame[list(columns)].reset_index(drop=True).astype(dict(columns))


def _empty(columns: Mapping[str, str]) -> pd.DataFrame:
    return _typed(pd.DataFrame({column: [] for column in columns}), columns)
