"""Features: one row of named numbers per candidate unit, and one per question.

The answer model (``coach/model.py``) weighs these; nothing here decides. A new
signal is a new column here, never a new ``if`` in the answer path. Every
column is defined for any guide: no column names a word of one guide.

Candidate columns describe how well a unit (sentence, bullet, table row, fact)
fits the question: cross-encoder logit, dense cosine, BM25, its heading and a
guide's own FAQ question matched against the question, whether it holds the
kind of value asked for (an amount, a number, a duration), the conversation's
focus, and its shape and position. Question columns describe how well the best
candidate fits and whether the question hinges on something the guide never
mentions; they feed the abstention model.
"""

from __future__ import annotations

import math
import re
import unicodedata
from functools import lru_cache

import numpy as np

from coach import lexical
from coach.examples import logit_standing

# What a question asks for. These are features, not gates: the model learns how
# much a missing amount counts against a sentence.
ASKS = {
    "amount": re.compile(
        r"\bhow much\b|\b(?:salar(?:y|ies)|pay|paid|pays|earn\w*|wages?|income|money|cost\w*|fees?|"
        r"tuition|price|rates?)\b",
        re.I,
    ),
    "number": re.compile(r"\bhow many\b|\bpercent\w*\b|\bnumber of\b|\bwhat (?:share|proportion)\b", re.I),
    "duration": re.compile(r"\bhow long\b|\bhow many (?:years|months|weeks|days|hours)\b|\bhow soon\b", re.I),
}
NUMBER_WORDS = r"one|two|three|four|five|six|seven|eight|nine|ten|twelve|dozens?|hundreds?|thousands?|millions?"
TIME_UNITS = r"years?|yrs?|months?|weeks?|days?|hours?|hrs?|semesters?"
AMOUNT_RE = re.compile(
    r"\b\d[\d,.]*\s*(?:k|USD|EUR|GBP|INR|LKR|AUD|CAD|dollars?|euros?|pounds?|rupees?)\b"
    r"|\b(?:USD|EUR|GBP|INR|LKR|AUD|CAD|Rs\.?)\s?\d"
    r"|\d\s*(?:per|an|a|/)\s*(?:hour|hr|year|yr|month|week|day|annum)\b",
    re.I,
)
HAS = {
    "amount": lambda t: any(unicodedata.category(ch) == "Sc" for ch in t) or bool(AMOUNT_RE.search(t)),
    "number": re.compile(rf"\d|\b(?:{NUMBER_WORDS}|several|few)\b", re.I).search,
    "duration": re.compile(
        rf"\b(?:\d+|{NUMBER_WORDS}|a few|several)\s*(?:[-–]\s*\d+\s*)?\+?\s*(?:{TIME_UNITS})\b", re.I
    ).search,
}
# Which end of a table a question asks for ("which industry pays the most?", "and the lowest paid
# ones?"): the row holding that end of its table's figures is a feature, as the kind of value is.
EXTREMES = {
    1: re.compile(r"\b(?:most|highest|best|top|largest|biggest|greatest)\b", re.I),
    -1: re.compile(r"\b(?:least|lowest|worst|fewest|smallest)\b", re.I),
}
FIGURE_RE = re.compile(r"(?<![\w.])([-\u2212]?)(\d[\d,]*(?:\.\d+)?)\s*(k\b|m\b|million|billion)?\s*(%|percent)?", re.I)
YEAR_RE = re.compile(r"(?:19|20)\d\d")
SCALE = {"k": 1e3, "m": 1e6, "million": 1e6, "billion": 1e9}
# Names a question uses: acronyms and capitalised words after the first word.
NAME_RE = re.compile(r"\b(?:[A-Z]{2,}[A-Za-z0-9-]*|[A-Z][a-z]+[A-Za-z0-9-]*)\b")

CANDIDATE_FEATURES = [
    "logit",
    "logit_gap",
    "logit_top",
    "late",
    "late_gap",
    "late_passage",
    "late_passage_gap",
    "late_cover",
    "dense",
    "dense_gap",
    "dense_alone",
    "dense_topic",
    "dense_adapted",
    "answer_like",
    "answer_like_gap",
    "bm25",
    "passage_rank",
    "heading_sim",
    "faq_sim",
    "heading_in_question",
    "after_question_sim",
    "question_in_unit",
    "subject_in_unit",
    "rare_missing",
    "names_found",
    *(f"{k}_{v}" for k in ASKS for v in ("fit", "missing")),
    "focus",
    "repeat",
    "after_quoted",
    "first_in_passage",
    "kind_sentence",
    "kind_bullet",
    "kind_row",
    "kind_fact",
    "list_intro",
    "question_shaped",
    "log_words",
    "extreme_fit",
    "extreme_other",
]
"""Columns of a candidate row; ``logit*`` are 0 when there is no cross-encoder.

``dense_alone`` is the cosine with the question without the conversation:
for a follow-up the other columns read it joined with the topic it continues
("what does a mid level designer earn? and how much experience is that?"), so
the model can weigh what the new question asks against the topic it leans
on. For a question that stands alone it equals ``dense``. ``dense_topic`` is
the cosine with the topic question alone (the question the follow-up leans on,
as it was searched): a unit that matches the joined question only through its
topic ("what tests do respiratory therapists do? what about treatments?" read
back to the tests the previous answer quoted) is as close to the topic as to
the joined question, one that answers the new part is closer to the joined
question. For a question that stands alone it equals ``dense``. (The cross-encoder
reads a follow-up once, with its topic: a second pass on the bare question
gained nothing out of guide and doubled its cost.) ``*_gap`` and
``logit_top`` are relative to the pool being ranked (``pool_relative``).
``late`` is the late-interaction score of the unit as the cross-encoder reads
it (``coach.late``), known for every candidate; ``late_passage`` the same for
the unit's whole passage, read for the pool only (0 without a cross-encoder).
``late_cover`` is how well the unit speaks of the question's worst-covered
subject word (``coach.late.LateReader.read``; 1 when the question has none).
``dense_adapted`` is the unit's cosine with the question turned towards what
answers such questions (``coach.adapter``; the plain ``dense`` without an adapter).
``answer_like`` is the unit's cosine with what answered the questions most like
this one on other guides (``examples.Elsewhere.answer_prototype``; 0 without
examples), ``answer_like_gap`` its distance to the pool's best.
``extreme_fit`` is 1 for a table row holding the highest figure of its table's
figure column when the question asks for the most of a value ("which industry
pays the most?"), or the lowest when it asks for the least (``asked_extreme``,
``table_ends``); ``extreme_other`` is 1 for the table's other rows with a
figure, under such a question. The end asked for is the new question's own
("and the lowest paid ones?"), never its topic's, so it is read from the
question alone, where ``wanted`` reads a follow-up with its topic.
``after_quoted`` is 1/d for a unit d places after one the previous answer
quoted, in guide order (0 when none is within ``answer.AFTER_QUOTED_REACH``):
"what comes after that?", "and the cons?", "how does that compare?".
"""


def _pool_only(feature: str) -> bool:
    return feature.startswith(("logit", "late_passage"))


FIRST_STAGE = [f for f in CANDIDATE_FEATURES if not _pool_only(f)]
"""Columns known before the cross-encoder runs (they choose what it reads)."""

FIRST_PLAIN = [f for f in FIRST_STAGE if not f.startswith("late")]
"""The first stage of the path without the cross-encoder and late-interaction reader
(neither installed, or ``COACH_RERANKER=0``): it orders the candidates alone."""

PLAIN_RANKER = [f for f in CANDIDATE_FEATURES if not f.startswith("late")]
"""Columns of the ranker whose scores feed the abstention model: all but the
late-interaction ones. Ranked with them, an out-of-scope question's best unit
looks more relevant than it is (leave-one-guide-out over 980 turns, AUC of
P(answerable) 0.910 without against 0.905 with, ``benchmarks/late_reader.py``), so they choose the answer
and leave the abstention to the evidence it was calibrated on."""

QUESTION_FEATURES = [
    "top_score",
    "score_gap",
    "top_logit",
    "top_dense",
    "top_adapted",
    "max_heading_sim",
    "top_type_missing",
    "pool_type_missing",
    "asks_type",
    "unknown_share",
    "unknown_rarity",
    "unknown_gain",
    "unknown_names",
    "top_subject_missing",
    "top_rare_missing",
    "top_names_missing",
    "top3_subject_missing",
    "top3_rare_missing",
    "fit_but_subject_missing",
    "top_cover",
    "top3_cover",
    "pool_cover",
    "elsewhere_vote",
    "question_prior",
    "logit_standing",
    "followup",
]
"""Columns of the question row (abstention model)."""

EVIDENCE_SIGN = {
    "top_score": 1, "score_gap": 1, "top_logit": 1, "top_dense": 1, "top_adapted": 1, "max_heading_sim": 1,
    "top_type_missing": -1, "pool_type_missing": -1,
    "unknown_share": -1, "unknown_rarity": -1, "unknown_gain": -1, "unknown_names": -1,
    "top_subject_missing": -1, "top_rare_missing": -1, "top_names_missing": -1, "top3_subject_missing": -1,
    "top3_rare_missing": -1, "fit_but_subject_missing": -1,
    "top_cover": 1, "top3_cover": 1, "pool_cover": 1, "elsewhere_vote": 1, "question_prior": 1, "logit_standing": 1,
}  # fmt: skip
"""Which way each piece of evidence can move P(the guide answers): a better match
only up, a missing word only down. ``coach train`` fits the abstention trees
monotone in each (``coach.train.fit_trees``): with a few hundred labelled
questions a dependence the other way is an accident of the sample (rare words "helping" in-scope questions), and it
does not carry to a new guide. Question properties (``asks_type``,
``followup``) have no direction and are fitted freely."""


@lru_cache(maxsize=4096)
def _zipf(word: str) -> float:
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en")


def asked_types(question: str) -> list[str]:
    return [k for k, rx in ASKS.items() if rx.search(question)]


def asked_extreme(question: str) -> int:
    """1 when the question asks for the most or highest of a value, -1 for the least or lowest, else 0.

    Only a question that asks for a value (``asked_types``: "which industry pays
    the most?", "and the lowest paid ones?") asks for an end of a table's
    figures; "the most important skill" or "the best way in" do not.
    """
    found = [d for d, rx in EXTREMES.items() if rx.search(question)]
    return found[0] if len(found) == 1 and asked_types(question) else 0


def _figure(cell: str) -> tuple[float, bool] | None:
    """(value, is a share) of the first figure in a table cell; None when it holds none.

    "$47,560", "45,930", "$47k", "-11%", "12% (Much faster than average)". A bare
    year ("2024 Median Pay", a header row read as a row) is not a figure.
    """
    m = FIGURE_RE.search(cell)
    if m is None:
        return None
    sign, digits, scale, share = m.groups()
    if not (sign or scale or share) and YEAR_RE.fullmatch(digits) and not HAS["amount"](cell):
        return None
    value = float(digits.replace(",", "")) * SCALE.get((scale or "").lower(), 1.0)
    return (-value if sign else value), bool(share)


def table_ends(rows: list[list[str]]) -> list[tuple[bool, bool] | None]:
    """(holds the table's highest figure, holds its lowest) for each row's cells; None for a row without one.

    The figure column is the last one in which at least half the rows hold a
    figure (a pay or a count column beside its labels). A column that mixes
    shares with amounts or counts (a "quick facts" table: pay, jobs, growth)
    or has fewer than two different figures gives its table no ends.
    """
    width = max((len(r) for r in rows), default=0)
    for col in range(width - 1, -1, -1):
        figures = [_figure(r[col]) if col < len(r) else None for r in rows]
        known = [f for f in figures if f is not None]
        if len(known) >= 2 and 2 * len(known) >= len(rows):
            break
    else:
        return [None] * len(rows)
    values = [v for v, _ in known]
    if len({share for _, share in known}) > 1 or max(values) == min(values):
        return [None] * len(rows)
    high, low = max(values), min(values)
    return [None if f is None else (f[0] == high, f[0] == low) for f in figures]


def names(question: str) -> list[str]:
    """Acronyms and capitalised words other than the first word ("RHIT", "Australia")."""
    out = []
    for m in NAME_RE.finditer(question):
        w = m.group(0)
        acronym = w.isupper()
        if (m.start() == 0 and not acronym) or (w.lower() in lexical.STOPWORDS and not acronym):
            continue
        out.append(w.lower())
    return out


def unknown_words(subject: list[str], knows) -> list[str]:  # noqa: ANN001
    """Subject words of the question that the guide never uses."""
    return [w for w in subject if not knows(w)]


def unknown_rarity(words: list[str]) -> float:
    """How rare in everyday English the rarest unknown word is (0 = everyday, 1 = very rare)."""
    if not words:
        return 0.0
    return max(min(1.0, max(0.0, 6.0 - _zipf(w)) / 4.0) for w in words)


def is_list_intro(text: str) -> bool:
    """A unit that introduces a list ("Key responsibilities include:"): quoted only with its items."""
    return text.rstrip().endswith(":")


def _mentions(words: set[str], name: str) -> bool:
    """Is ``name`` (lower-cased) among ``words``, allowing a plural or possessive form?"""
    return name in words or name + "s" in words or name.removesuffix("s") in words


def _covers(stems: set[str], stem: str) -> bool:
    """Does a unit mention ``stem``, or a longer word it shortens ("techs" -> "technicians")?"""
    return stem in stems or (len(stem) >= 4 and any(u.startswith(stem) for u in stems))


def _share(part: set[str] | frozenset[str], whole: set[str] | frozenset[str]) -> float:
    return len(part & whole) / len(part) if part else 0.0


# A guide's units and headings come back question after question: what a row needs of their
# text alone is worked out once per text (16,384 texts: about 80 of these guides' units,
# tens of MB when full).
@lru_cache(maxsize=16384)
def _stems(text: str) -> frozenset[str]:
    return frozenset(lexical.tokens(text))


@lru_cache(maxsize=16384)
def _words(text: str) -> frozenset[str]:
    return frozenset(lexical.words(text))


@lru_cache(maxsize=16384)
def _holds(unit_text: str) -> tuple[bool, ...]:
    """Does the unit hold each kind of value ``ASKS`` names (in ``ASKS`` order)?"""
    return tuple(bool(HAS[k](unit_text)) for k in ASKS)


def candidate_row(
    *,
    unit_text: str,
    context: str,
    kind: str,
    unit_pos: int,
    heading: str,
    heading_sim: float,
    after_question_sim: float,
    dense: float,
    dense_alone: float,
    answer_like: float,
    dense_topic: float | None = None,
    dense_adapted: float | None = None,
    bm25: float,
    passage_rank: int,
    logit: float | None,
    late: float,
    late_passage: float | None,
    late_cover: float,
    qstems: set[str],
    subject: dict[str, float],
    qnames: list[str],
    wanted: list[str],
    focus: float,
    repeat: bool,
    after_quoted: float,
    extreme: int = 0,
    ends: tuple[bool, bool] | None = None,
) -> list[float]:
    """One row in ``CANDIDATE_FEATURES`` order, pool-relative columns left at 0.

    ``extreme`` is the question's ``asked_extreme``; ``ends`` the unit's entry
    of ``table_ends`` (None for a unit that is not a table row with a figure).

    ``subject`` maps the stems of the question's subject words to their rarity
    in everyday English (0-1). Call ``pool_relative`` on the rows of the pool.
    """
    hstems = _stems(heading)
    ustems = _stems(context)
    cwords = _words(context)
    covered = {w for w in subject if _covers(ustems, w)}
    row = {
        "logit": logit or 0.0,
        "logit_gap": 0.0,
        "logit_top": 0.0,
        "late": late,
        "late_gap": 0.0,
        "late_passage": late_passage or 0.0,
        "late_passage_gap": 0.0,
        "late_cover": late_cover,
        "dense": dense,
        "dense_gap": 0.0,
        "dense_alone": dense_alone,
        "dense_topic": dense if dense_topic is None else dense_topic,
        "dense_adapted": dense if dense_adapted is None else dense_adapted,
        "answer_like": answer_like,
        "answer_like_gap": 0.0,
        "bm25": bm25,
        "passage_rank": 1.0 / (1.0 + passage_rank),
        "heading_sim": heading_sim,
        "faq_sim": heading_sim if heading.rstrip().endswith("?") else 0.0,
        "heading_in_question": _share(hstems, qstems),
        "after_question_sim": after_question_sim,
        "question_in_unit": _share(qstems, ustems),
        "subject_in_unit": _share(covered, set(subject)) if subject else 0.0,
        "rare_missing": max((r for w, r in subject.items() if w not in covered), default=0.0),
        "names_found": (sum(_mentions(cwords, n) for n in qnames) / len(qnames)) if qnames else 1.0,
        "focus": focus,
        "repeat": float(repeat),
        "after_quoted": after_quoted,
        "first_in_passage": float(unit_pos == 0),
        "kind_sentence": float(kind == "sentence"),
        "kind_bullet": float(kind in ("bullet", "item")),
        "kind_row": float(kind == "table_row"),
        "kind_fact": float(kind == "fact"),
        "list_intro": float(is_list_intro(unit_text)),
        "question_shaped": float(unit_text.rstrip().endswith("?")),
        "log_words": math.log1p(len(unit_text.split())),
        "extreme_fit": float(bool(extreme and ends and ends[0 if extreme > 0 else 1])),
        "extreme_other": float(bool(extreme and ends and not ends[0 if extreme > 0 else 1])),
    }
    for k, has in zip(ASKS, _holds(unit_text), strict=True):
        asked = k in wanted
        row[f"{k}_fit"] = float(asked and has)
        row[f"{k}_missing"] = float(asked and not has)
    return [row[f] for f in CANDIDATE_FEATURES]


def pool_relative(rows: np.ndarray, has_logits: bool) -> np.ndarray:
    """Fill the columns that compare each candidate with the best of its pool (in place; returns ``rows``)."""
    if not len(rows):
        return rows
    col = {f: k for k, f in enumerate(CANDIDATE_FEATURES)}
    dense = rows[:, col["dense"]]
    rows[:, col["dense_gap"]] = dense - dense.max()
    late = rows[:, col["late"]]
    rows[:, col["late_gap"]] = late - late.max()
    like = rows[:, col["answer_like"]]
    rows[:, col["answer_like_gap"]] = like - like.max()
    if has_logits:
        logit = rows[:, col["logit"]]
        rows[:, col["logit_gap"]] = logit - logit.max()
        rows[:, col["logit_top"]] = (logit >= logit.max()).astype(np.float64)
        psg = rows[:, col["late_passage"]]
        rows[:, col["late_passage_gap"]] = psg - psg.max()
    else:
        for f in ("logit_gap", "logit_top", "late_passage_gap"):
            rows[:, col[f]] = 0.0
    return rows


def without_readers(rows: np.ndarray) -> np.ndarray:
    """A copy of ``rows`` as the path without the cross-encoder and late reader sees them (``logit*``, ``late*`` 0)."""
    out = rows.copy()
    for k, f in enumerate(CANDIDATE_FEATURES):
        if f.startswith(("logit", "late")):
            out[:, k] = 0.0
    return pool_relative(out, has_logits=False)


def subject_weights(subject: list[str]) -> dict[str, float]:
    """Stem -> rarity in everyday English for the question's subject words."""
    out: dict[str, float] = {}
    for w in subject:
        for st in lexical.tokens(w):
            out[st] = max(out.get(st, 0.0), unknown_rarity([w]))
    return out


def question_row(
    *,
    scores: np.ndarray,
    rows: np.ndarray,
    unknown: list[str],
    subject: list[str],
    unknown_gain: float,
    unknown_names: float,
    wanted: list[str],
    followup: bool,
    cover: float,
    vote: float,
    prior: float,
    usual: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[float]:
    """One row in ``QUESTION_FEATURES`` order; ``scores`` and ``rows`` are sorted best first.

    ``cover`` is the best cover any candidate gives the question's worst-covered
    subject word (0 on the path without the late reader); ``vote`` the share of in-scope questions
    among the labelled questions of other guides closest to it; ``prior`` the log-odds that a guide
    answers a question like it (``coach.prior``); ``usual`` the cross-encoder
    logits that answered the closest of them (``coach.examples``; None on the path without the
    cross-encoder)."""
    col = {f: k for k, f in enumerate(CANDIDATE_FEATURES)}
    top = rows[0]
    missing = sum(top[col[f"{k}_missing"]] for k in ASKS)
    fit = float(any(top[col[f"{k}_fit"]] for k in ASKS))
    row = {
        "top_score": float(scores[0]),
        "score_gap": float(scores[0] - scores[1]) if len(scores) > 1 else 5.0,
        "top_logit": float(top[col["logit"]]),
        "top_dense": float(top[col["dense"]]),
        # The best any candidate does with the question turned towards what answers such questions
        # (``dense_adapted``): a question no guide section answers stays far from all of them.
        "top_adapted": float(rows[:, col["dense_adapted"]].max()),
        "max_heading_sim": float(rows[:, col["heading_sim"]].max()),
        "top_type_missing": float(missing > 0),
        # No candidate holds a kind of value asked for: "what does this job pay?" on a guide
        # that names no pay, where the best unit lacking an amount says nothing by itself.
        "pool_type_missing": float(any(rows[:, col[f"{k}_missing"]].min() > 0 for k in ASKS)),
        "asks_type": float(bool(wanted)),
        "unknown_share": len(unknown) / len(subject) if subject else 0.0,
        "unknown_rarity": unknown_rarity(unknown),
        "unknown_gain": unknown_gain,
        "unknown_names": unknown_names,
        "top_subject_missing": 1.0 - float(top[col["subject_in_unit"]]) if subject else 0.0,
        "top_rare_missing": float(top[col["rare_missing"]]),
        "top_names_missing": 1.0 - float(top[col["names_found"]]),
        # The best few together: does any of them speak about what the question names?
        "top3_subject_missing": 1.0 - float(rows[:3, col["subject_in_unit"]].max()) if subject else 0.0,
        "top3_rare_missing": float(rows[:3, col["rare_missing"]].min()),
        # The right kind of value about something else ("how much do pharmacists
        # make?" answered with pharmacy technicians' pay).
        "fit_but_subject_missing": fit * (1.0 - float(top[col["subject_in_unit"]])) if subject else 0.0,
        # The late reader's word by word reading: the question's worst-covered subject word in the
        # best unit, in the best three, and anywhere among the candidates (``coach.late.LateReader.read``).
        "top_cover": float(top[col["late_cover"]]),
        "top3_cover": float(rows[:3, col["late_cover"]].max()),
        "pool_cover": cover,
        "elsewhere_vote": vote,
        "question_prior": prior,
        # Is the best unit as sure an answer as questions like this one got on other guides?
        "logit_standing": logit_standing(float(top[col["logit"]]), usual),
        "followup": float(followup),
    }
    return [row[f] for f in QUESTION_FEATURES]
