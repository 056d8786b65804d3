"""Word-level text handling shared by BM25, scoring and follow-up detection."""

from __future__ import annotations

import re
from functools import lru_cache

WORD_RE = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")

STOPWORDS = frozenset(
    """a about above after again against all am an and any are aren't as at be because been before
    being below between both but by can can't cannot could couldn't did didn't do does doesn't doing
    don't down during each few for from further had hadn't has hasn't have haven't having he he'd
    he'll he's her here here's hers herself him himself his how how's i i'd i'll i'm i've if in into
    is isn't it it's its itself let's me more most mustn't my myself no nor not of off on once only
    or other ought our ours ourselves out over own same shan't she she'd she'll she's should
    shouldn't so some such than that that's the their theirs them themselves then there there's
    these they they'd they'll they're they've this those through to too under until up very was
    wasn't we we'd we'll we're we've were weren't what what's when when's where where's which while
    who who's whom why why's will with won't would wouldn't you you'd you'll you're you've your
    yours yourself yourselves also just really actually anyway get got s t d ll m re ve""".split()
)


@lru_cache(maxsize=1)
def _stemmer():  # noqa: ANN202
    import Stemmer  # PyStemmer

    return Stemmer.Stemmer("english")


DOTTED_RE = re.compile(r"\b[A-Za-z](?:\.[A-Za-z])+\b\.?")
"""Initials written with dots ("U.S.", "U.K", "a.m."): one word, as job seekers type them ("US")."""

TOKEN_RE = re.compile(f"{DOTTED_RE.pattern}|{WORD_RE.pattern}")
"""One word of ``words`` where it stands in the text: dotted initials whole, else ``WORD_RE``."""


def words(text: str) -> list[str]:
    """Lower-cased words, apostrophes normalised, dotted initials joined ("U.S." -> "us")."""
    text = DOTTED_RE.sub(lambda m: m.group().replace(".", ""), text)
    return [w.lower().replace("’", "'") for w in WORD_RE.findall(text)]


def stem(word: str) -> str:
    return _stemmer().stemWord(word.split("'")[0])


def tokens(text: str) -> list[str]:
    """Stemmed content words: what BM25 indexes and matches."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]
