"""Block tokens shared by the plain-text and Markdown readers, and the shape tests they use.

A reader turns a guide's text into a flat list of :class:`Token` (headings,
paragraphs, lists, tables) with exact character offsets into the source;
:mod:`coach.parse` groups them into sections and quotable units. The tests
here look at the shape of a line (length, capitals, final punctuation, leading
figures), never at particular words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

VALUE_START_RE = re.compile(r"^[$€£¥≈~<>±]")
LABEL_VALUE_RE = re.compile(r"^[^:]{1,40}:\s+\S")
# A table cell that holds a figure: "$26,940", "27%", "-1% (Little or no change)", "14,300".
VALUE_CELL_RE = re.compile(r"^[-+−–]?[$€£¥]?\d")
SENTENCE_END_RE = re.compile(r"[.!?:;][\"'”’)\]]*$")
LEADING_NUMBER_RE = re.compile(r"^\d{1,3}[.)]\s+")


@dataclass
class Token:
    """One block of a guide: ``start``/``end`` are offsets into the source text."""

    kind: str  # heading | para | bullets | table | inline_list | item | md_ordered | resume
    start: int
    end: int
    text: str = ""
    level: int = 0
    spans: list[tuple[int, int]] = field(default_factory=list)
    columns: list[str] | None = None
    cells: list[list[str]] = field(default_factory=list)
    number: int = 0
    years: tuple[int, int] | None = None
    header: bool = False
    """For a table: ``spans[0]`` is its header row."""
    markup: bool = False
    """The spans hold inline Markdown (emphasis, links) to strip for matching."""
    group: int | None = None
    """Plain text: which blank-line-separated run of lines the token is in."""
    owner: Token | None = None
    """Plain text: the heading this heading (or a ``resume`` marker) sits under."""
    caption: bool = False
    """A heading that titles the table right after it."""


def words(text: str) -> list[str]:
    return text.split()


def is_title_like(text: str, max_words: int = 14) -> bool:
    """A short line that reads like a heading, not a sentence or a value."""
    ws = words(text)
    if not ws or len(ws) > max_words or len(text) > 110:
        return False
    if text[-1] in ".,;:!" or VALUE_START_RE.match(text) or LABEL_VALUE_RE.match(text):
        return False
    if not (text[0].isupper() or text[0].isdigit()):
        return False
    alpha = [w for w in ws if re.search(r"[A-Za-z]{2,}", w)]
    return len(alpha) / len(ws) >= 0.6


def is_capitalized(text: str) -> bool:
    """Title Case or very short: most words of four letters or more start with a capital.

    Tells "Injuries and Illnesses" or "Controller vs. Chief Financial Officer
    (CFO)" from a sentence that lacks its final stop ("For information about
    careers in forestry, visit").
    """
    ws = words(text)
    if len(ws) <= 3:
        return True
    long_words = [w for w in ws if len(re.sub(r"\W", "", w)) >= 4]
    if not long_words:
        return True
    caps = sum(1 for w in long_words if re.sub(r"^\W+", "", w)[:1].isupper())
    return caps / len(long_words) >= 0.5


def is_question_heading(text: str) -> bool:
    return text.endswith("?") and 3 <= len(words(text)) <= 30 and text[0].isupper()


def is_caption_like(text: str) -> bool:
    """A table's title: short, no final stop; a "Label: subject" form is allowed."""
    ws = words(text)
    return (
        0 < len(ws) <= 14
        and not SENTENCE_END_RE.search(text)
        and text[0].isupper()
        and not VALUE_START_RE.match(text)
        and "\t" not in text
    )


def ends_sentence(text: str) -> bool:
    return bool(SENTENCE_END_RE.search(text))


def is_value_cell(cell: str) -> bool:
    return bool(VALUE_CELL_RE.match(cell.strip()))


def heading_name(text: str) -> str:
    """A heading as shown in a path: no trailing colon, no wrapping quotes."""
    name = " ".join(text.split()).rstrip(":").strip()
    if len(name) > 2 and name[0] == name[-1] and name[0] in "\"'":
        name = name[1:-1].rstrip(":").strip()
    return name or text.strip()


def strip_enumeration(title: str) -> str:
    """ "6. DevOps Engineer" -> "DevOps Engineer": a series number is not part of the title."""
    stripped = LEADING_NUMBER_RE.sub("", title)
    return stripped if stripped.strip() else title
