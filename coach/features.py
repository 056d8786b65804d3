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
# Names a question uses: acronyms and capitalised words after the first word.
NAME_RE = re.compile(r"\b(?:[A-Z]{2,}[A-Za-z0-9-]*|[A-Z][a-z]+[A-Za-z0-9-]*)\b")

CANDIDATE_FEATURES = [
    "logit",
    "logit_gap",
    "logit_top",
    "dense",
    "dense_gap",
    "bm25",
    "passage_rank",
    "heading_sim",
    "faq_sim",
    "heading_in_question",
    "after_question_sim",
    "question_in_unit",
    "names_found",
    *(f"{k}_{v}" for k in ASKS for v in ("fit", "missing")),
    "focus",
    "repeat",
    "followup_focus",
    "first_in_passage",
    "kind_sentence",
    "kind_bullet",
    "kind_row",
    "kind_fact",
    "list_intro",
    "question_shaped",
    "log_words",
]
"""Columns of a candidate row; ``logit*`` are 0 when there is no cross-encoder."""

FIRST_STAGE = [f for f in CANDIDATE_FEATURES if not f.startswith("logit")]
"""Columns known before the cross-encoder runs (they choose what it reads)."""

QUESTION_FEATURES = [
    "top_score",
    "score_gap",
    "top_logit",
    "top_dense",
    "max_heading_sim",
    "top_type_missing",
    "asks_type",
    "unknown_share",
    "unknown_rarity",
    "unknown_gain",
    "unknown_names",
    "followup",
]
"""Columns of the question row (abstention model)."""


@lru_cache(maxsize=4096)
def _zipf(word: str) -> float:
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en")


def asked_types(question: str) -> list[str]:
    return [k for k, rx in ASKS.items() if rx.search(question)]


def names(question: str) -> list[str]:
    """Acronyms and capitalised words other than the first word ("RHIT", "Australia")."""
    out = []
    for m in NAME_RE.finditer(question):
        w = m.group(0)
        if (m.start() == 0 and not w.isupper()) or w.lower() in lexical.STOPWORDS:
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


def _share(part: set[str], whole: set[str]) -> float:
    return len(part & whole) / len(part) if part else 0.0


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
    dense_best: float,
    bm25: float,
    passage_rank: int,
    logit: float | None,
    logit_best: float | None,
    qstems: set[str],
    qnames: list[str],
    wanted: list[str],
    focus: float,
    repeat: bool,
    followup: bool,
) -> list[float]:
    """One row in ``CANDIDATE_FEATURES`` order."""
    hstems = set(lexical.tokens(heading))
    ustems = set(lexical.tokens(context))
    ctx = context.lower()
    row = {
        "logit": logit or 0.0,
        "logit_gap": (logit - logit_best) if logit is not None and logit_best is not None else 0.0,
        "logit_top": float(logit is not None and logit_best is not None and logit >= logit_best),
        "dense": dense,
        "dense_gap": dense - dense_best,
        "bm25": bm25,
        "passage_rank": 1.0 / (1.0 + passage_rank),
        "heading_sim": heading_sim,
        "faq_sim": heading_sim if heading.rstrip().endswith("?") else 0.0,
        "heading_in_question": _share(hstems, qstems),
        "after_question_sim": after_question_sim,
        "question_in_unit": _share(qstems, ustems),
        "names_found": (sum(n in ctx for n in qnames) / len(qnames)) if qnames else 1.0,
        "focus": focus,
        "repeat": float(repeat),
        "followup_focus": focus if followup else 0.0,
        "first_in_passage": float(unit_pos == 0),
        "kind_sentence": float(kind == "sentence"),
        "kind_bullet": float(kind in ("bullet", "item")),
        "kind_row": float(kind == "table_row"),
        "kind_fact": float(kind == "fact"),
        "list_intro": float(unit_text.rstrip().endswith(":")),
        "question_shaped": float(unit_text.rstrip().endswith("?")),
        "log_words": math.log1p(len(unit_text.split())),
    }
    for k in ASKS:
        asked = k in wanted
        has = bool(HAS[k](unit_text))
        row[f"{k}_fit"] = float(asked and has)
        row[f"{k}_missing"] = float(asked and not has)
    return [row[f] for f in CANDIDATE_FEATURES]


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
) -> list[float]:
    """One row in ``QUESTION_FEATURES`` order; ``scores`` and ``rows`` are sorted best first."""
    col = {f: k for k, f in enumerate(CANDIDATE_FEATURES)}
    top = rows[0]
    missing = sum(top[col[f"{k}_missing"]] for k in ASKS)
    row = {
        "top_score": float(scores[0]),
        "score_gap": float(scores[0] - scores[1]) if len(scores) > 1 else 5.0,
        "top_logit": float(top[col["logit"]]),
        "top_dense": float(top[col["dense"]]),
        "max_heading_sim": float(rows[:, col["heading_sim"]].max()),
        "top_type_missing": float(missing > 0),
        "asks_type": float(bool(wanted)),
        "unknown_share": len(unknown) / len(subject) if subject else 0.0,
        "unknown_rarity": unknown_rarity(unknown),
        "unknown_gain": unknown_gain,
        "unknown_names": unknown_names,
        "followup": float(followup),
    }
    return [row[f] for f in QUESTION_FEATURES]
