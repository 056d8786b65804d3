"""Typed records that cross module boundaries: guides, passages, hits, answers.

Offsets are always character offsets into the guide's source text, so that
``source_text[char_start:char_end] == text`` holds for every unit, passage and
quoted sentence.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

UnitKind = Literal["sentence", "bullet", "table_row", "fact", "item", "heading"]


class Unit(BaseModel):
    """The smallest quotable piece of a guide: a sentence, bullet, table row or fact."""

    kind: UnitKind
    text: str
    char_start: int
    char_end: int
    block: int
    """Units of one paragraph or list share a block number (used for adjacency)."""
    columns: list[str] | None = None
    """Column names, for a table row."""
    cells: list[str] | None = None
    """Cell values, for a table row, aligned with ``columns``."""
    plain: str | None = None
    """The unit's text with markup removed (for matching and display); None when equal to text."""


class Section(BaseModel):
    """A run of a guide under one heading path."""

    heading_path: list[str]
    char_start: int
    char_end: int
    units: list[Unit] = []


class Fact(BaseModel):
    label: str
    value: str


class TableRow(BaseModel):
    columns: list[str]
    cells: list[str]


class FaqPair(BaseModel):
    question: str
    answer: str


class ListItem(BaseModel):
    """A numbered item: a step of a how-to or a career level."""

    number: int
    title: str
    years: str | None = None
    text: str = ""


class ExcludedSection(BaseModel):
    """Units of a guide kept out of answers: site clutter, or a section staff excluded."""

    heading_path: list[str]
    reason: str
    """Why: "marketing", "link card", "page footer", "excluded by staff", ..."""
    char_start: int = 0
    char_end: int = 0
    units: int
    """How many units were left out."""
    whole: bool = True
    """The whole section went (False: only its last lines, e.g. a sign-up box under an answer)."""
    text: str = ""
    """The start of what was left out, for the staff page."""


class Guide(BaseModel):
    """A parsed career guide."""

    source: str
    """File path relative to the corpus folder."""
    title: str
    text: str
    sha256: str
    sections: list[Section]
    facts: list[Fact] = []
    tables: list[list[TableRow]] = []
    faq: list[FaqPair] = []
    steps: list[ListItem] = []
    levels: list[ListItem] = []
    excluded: list[ExcludedSection] = []
    """Site clutter and staff exclusions: parsed, never quoted (see coach/clutter.py)."""


class Passage(BaseModel):
    """A bounded, section-aware piece of a guide: what the index stores and retrieves."""

    id: str
    source: str
    title: str
    section: list[str]
    text: str
    char_start: int
    char_end: int
    units: list[Unit]

    @property
    def embed_text(self) -> str:
        """Text given to the embedder: heading path below the title, then the passage.

        The guide title is left out: shared by every passage of a guide, it
        drowns short passages (a salary fact) in the same few words.
        """
        path = " > ".join(self.section[1:])
        body = " ".join(self.text.split())
        return f"{path}: {body}" if path else body

    @property
    def lexical_text(self) -> str:
        """Text given to BM25: the full heading path (title included) and the passage."""
        return f"{' > '.join(self.section)}: {self.text}"

    @property
    def words(self) -> int:
        return len(self.text.split())


class Hit(BaseModel):
    """One retrieved passage with its score."""

    passage: Passage
    score: float
    dense: float = 0.0
    lexical: float = 0.0


class GuideRecord(BaseModel):
    source: str
    sha256: str
    title: str
    chars: int


class Manifest(BaseModel):
    """What an index was built from. Loading compares it to the corpus and model."""

    format_version: int
    model: str
    dimension: int
    normalized: bool = True
    index_type: str
    chunking: dict[str, int]
    pipeline: str = ""
    """Hash of the parsing and chunking code: a changed parser makes the index stale."""
    guides: list[GuideRecord]
    skipped: list[str] = []
    passage_count: int
    unit_count: int
    built_at: str
    build_seconds: float
    libraries: dict[str, str]

    @property
    def id(self) -> str:
        """A short, stable id for this build (for audit records)."""
        import hashlib

        key = "|".join([self.model, self.built_at, *(g.sha256 for g in self.guides)])
        return hashlib.sha256(key.encode()).hexdigest()[:16]


class Citation(BaseModel):
    marker: int
    passage_id: str
    source: str
    title: str
    section: list[str]
    text: str
    char_start: int
    char_end: int
    score: float


class AnswerSentence(BaseModel):
    text: str
    """Verbatim text from the guide."""
    citation: int
    char_start: int
    char_end: int
    kind: UnitKind = "sentence"
    columns: list[str] | None = None
    cells: list[str] | None = None

    def labelled_row(self) -> str | None:
        """A table row read with its column names ("Level: Junior ... · US Median: $47k USD"), else None.

        The quote itself stays verbatim; a flattened row ("Junior Technician$47k USD$50k USD")
        is hard to read without its columns.
        """
        if self.kind != "table_row" or not self.columns or not self.cells:
            return None
        return " · ".join(f"{c}: {v}" for c, v in zip(self.columns, self.cells, strict=False))


class Answer(BaseModel):
    """The one answer shape every front end uses."""

    question: str
    query: str
    """What was actually searched, after follow-up handling."""
    followup: bool = False
    """Whether the question was read as a follow-up, with the conversation's topic."""
    abstained: bool
    text: str
    sentences: list[AnswerSentence] = []
    citations: list[Citation] = []
    confidence: float = 0.0
    suggestions: list[str] = Field(default_factory=list)
    """Closest sections the guide does cover (offered on abstention)."""
    signals: dict[str, float] = Field(default_factory=dict)
    """The evidence behind answering or abstaining: the question features and ``p_answer``."""
    latency_ms: float = 0.0
    timings_ms: dict[str, float] = Field(default_factory=dict)
    guide: str | None = None
    """The guide (file name in the corpus) the answer was scoped to: picked, or named in the question."""
