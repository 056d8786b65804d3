"""Sentence boundaries with exact offsets.

A small rule-based splitter: a sentence ends at ``.``, ``!`` or ``?`` (plus any
closing quotes or brackets) followed by whitespace and an upper-case letter,
digit, quote, bracket or currency sign, unless the word before the stop is an
abbreviation (``e.g.``, ``U.S.``, ``Dr.``) or an initial, also where it opens a
bracket, a quote, a Markdown link or emphasis ("The [U.S. Bureau ...](...)").
"""

from __future__ import annotations

import re

ABBREVIATIONS = {
    "e.g.", "i.e.", "etc.", "vs.", "mr.", "mrs.", "ms.", "dr.", "prof.", "st.", "inc.", "ltd.",
    "co.", "corp.", "no.", "approx.", "jr.", "sr.", "dept.", "fig.", "est.", "avg.", "min.",
    "max.", "cf.", "al.", "ca.", "jan.", "feb.", "mar.", "apr.", "jun.", "jul.", "aug.",
    "sep.", "sept.", "oct.", "nov.", "dec.", "u.s.", "u.k.", "e.u.", "a.m.", "p.m.", "yr.", "yrs.",
}  # fmt: skip
BOUNDARY_RE = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s+[\"'“‘(\[$€£A-Z0-9])")
INITIALS_RE = re.compile(r"^(?:[A-Za-z]\.)+$")


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Return ``(char_start, char_end)`` of each sentence of ``text[start:end]``.

    Offsets are absolute (into ``text``); each span is stripped of surrounding
    whitespace and the spans cover every non-space character of the range.
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    seg_start = start
    for m in BOUNDARY_RE.finditer(text, start, end):
        stop = m.end()
        word_start = text.rfind(" ", seg_start, m.start()) + 1
        word_start = max(word_start, seg_start)
        word = text[word_start : m.start() + 1].lower().lstrip("(\"'[*_")
        if m.group(0)[0] == "." and (word in ABBREVIATIONS or INITIALS_RE.match(word)):
            continue
        _add(text, seg_start, stop, spans)
        seg_start = stop
    _add(text, seg_start, end, spans)
    return spans


def _add(text: str, s: int, e: int, spans: list[tuple[int, int]]) -> None:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    if e > s:
        spans.append((s, e))
