"""Misspelt question words, read as the guide word they were meant to be.

"how long is the apprentiship?" should find the apprenticeship section: the
embedder half-recognises a typo, BM25 not at all, and the abstention model
would take the unknown word for a topic the guide never covers. A word is
corrected only when it is no English word at all (so "union" or "Walgreens"
stay what they are: a topic the guide may lack), and the guide has exactly
one word within a small edit distance that starts with the same letter. The
common function words count as the guide's ("shuold" is read as "should"):
left misspelt, such a word would look like a topic the guide never covers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from coach import lexical

MIN_LENGTH = 5
"""Shorter words are too easily one edit from another real word ("pay"/"day")."""
MAX_ZIPF = 2.0
"""A word this rare in everyday English (wordfreq's Zipf scale) is taken for a misspelling."""

_WORD = re.compile(r"[A-Za-z]+")


FUNCTION_WORDS = sorted(w for w in lexical.STOPWORDS if len(w) >= MIN_LENGTH and "'" not in w)
"""Stop words long enough to be corrected to ("should", "which", "about", "their")."""


def _max_edits(word: str) -> int:
    return 1 if len(word) < 11 else 2


def correction(word: str, vocabulary: Sequence[str]) -> str | None:
    """The one guide word ``word`` is a typo of, or None when there is none or several tie."""
    from rapidfuzz import process
    from rapidfuzz.distance import DamerauLevenshtein

    w = word.lower()
    limit = _max_edits(w)
    found = process.extract(
        w, vocabulary, scorer=DamerauLevenshtein.distance, score_cutoff=limit, limit=5,
        processor=None,
    )  # fmt: skip
    found = [(cand, dist) for cand, dist, _ in found if cand[:1] == w[:1]]
    if not found:
        return None
    best = min(dist for _, dist in found)
    nearest = {cand for cand, dist in found if dist == best}
    return nearest.pop() if len(nearest) == 1 else None


def correct_question(question: str, vocabulary: Sequence[str], knows: Callable[[str], bool]) -> str:
    """``question`` with its misspelt words replaced by the guide's word (case of the first letter kept)."""
    from wordfreq import zipf_frequency

    known: list[str] = []  # the guide's words and the function words, once, when a word needs them

    def fix(m: re.Match[str]) -> str:
        word = m.group(0)
        w = word.lower()
        if len(w) < MIN_LENGTH or w in lexical.STOPWORDS or knows(w) or zipf_frequency(w, "en") > MAX_ZIPF:
            return word
        if not known:
            known.extend(dict.fromkeys([*vocabulary, *FUNCTION_WORDS]))
        right = correction(w, known)
        if right is None:
            return word
        return right.capitalize() if word[0].isupper() else right

    return _WORD.sub(fix, question)
