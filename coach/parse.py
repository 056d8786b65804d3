"""Parse a career guide into sections of quotable units.

Two readers turn the text into block tokens (headings, paragraphs, lists,
tables) with exact character offsets: :mod:`coach.plaintext` for plain text
flattened from a web page, :mod:`coach.markdown` for Markdown. This module
groups the tokens under heading paths and cuts them into units (sentences,
bullets, table rows, facts), and collects the guide's facts, tables, FAQ,
steps and career levels.

Every unit keeps exact character offsets into the source text
(``text[u.char_start:u.char_end] == u.text``); Markdown units also carry
``plain``, their text without markup. Nothing here is tuned to one guide: the
rules are about shapes (a short title-like line, a run of question headings,
a list introduced by a line ending with a colon), not about words.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

from coach import clutter, markdown, plaintext
from coach.blocks import VALUE_START_RE, Token, is_question_heading, strip_enumeration
from coach.records import ExcludedSection, Fact, FaqPair, Guide, ListItem, Section, TableRow, Unit, UnitKind
from coach.sentences import split_sentences

if TYPE_CHECKING:
    from coach.corpus import GuideFile

STEP_TITLE_RE = plaintext.STEP_TITLE_RE
HEADING_YEARS_RE = re.compile(r"^(.*?)\s*[(\[–-]\s*(\d+\s*(?:[-–]\s*\d+|\+)\s*years?)\s*[)\]]?$", re.I)
BULLET_FACT_RE = re.compile(r"^\**([^:*]{1,40}?)\**\s*:\s*\**\s*(.+)$")
FACT_MAX_WORDS = 40
FAQ_MAX_PARAGRAPHS = 3
RUN_IN_MAX_WORDS = 4
"""Sentences inside a paragraph are gathered into the sentence after them while the gathered
text has at most this many words: a run-in heading ("Color vision. Electricians must be able
to identify wires by their color."), a reply ("Yes. Many designers had no design
background.") or a lead-in ("This surprises almost everyone."). Quoted alone it answers
nothing. A short sentence that looks like site clutter ("Watch the video below.") stays
alone, so the clutter rules leave out only it, not the sentence after it."""
LIST_KINDS = {"bullets", "md_ordered", "inline_list", "table"}


@dataclass
class _RawSection:
    heading: Token | None
    contents: list[Token]
    path: list[str] = field(default_factory=list)
    role: str = "plain"  # plain | fact | faq | item


def _content_words(sec: _RawSection, text: str) -> int:
    return sum(len(text[t.start : t.end].split()) for t in sec.contents)


def _is_fact_like(sec: _RawSection, text: str) -> bool:
    if not sec.contents or sec.heading is None or sec.heading.kind != "heading":
        return False
    if any(t.kind in {"bullets", "table", "md_ordered"} for t in sec.contents):
        return False
    first = text[sec.contents[0].start : sec.contents[0].end]
    return _content_words(sec, text) <= FACT_MAX_WORDS and (
        sec.contents[0].kind == "inline_list" or bool(VALUE_START_RE.match(first)) or first[:1].isdigit()
    )


def is_markdown(text: str, source: str) -> bool:
    """A ``.md`` file, or any text with at least two ``#`` headings."""
    return source.lower().endswith((".md", ".markdown")) or len(re.findall(r"(?m)^#{1,3} \S", text)) >= 2


MARKUP_RE = re.compile(r"\]\(|\*\*|__|`|\*\S[^*\n]*\S\*|^\s*\|?\s*:?-{3,}:?\s*\||^\s*>\s", re.M)
"""Markdown beyond headings: a link, emphasis, code, a pipe table's rule row, a quote."""


def _has_headings(tokens: list[Token]) -> bool:
    return any(t.kind == "heading" for t in tokens)


def parse_guide(text: str, source: str, exclude: Iterable[str] = (), shared: frozenset[str] = frozenset()) -> Guide:
    """Parse ``text`` (the whole file) into a :class:`Guide`. ``source`` is its relative path.

    Site clutter is left out of ``sections`` and listed in ``Guide.excluded``
    (:mod:`coach.clutter`), with the sections named in ``exclude`` (staff's
    choice) and lines in ``shared`` (seen in other guides of the corpus) as
    further evidence.
    """
    md = is_markdown(text, source)
    tokens = markdown.tokenize(text) if md else plaintext.tokenize(text)
    if md and not _has_headings(tokens) and not MARKUP_RE.search(text):
        # A ``.md`` file without a single Markdown heading (``#``, underlined or a bold line) and
        # without any other markup (links, emphasis, code, a table's rule, a quote) is text
        # flattened from a page and saved with the wrong ending: read by its layout, as a ``.txt``
        # file is, when that finds its headings (else one section, read as Markdown).
        plain = plaintext.tokenize(text)
        if _has_headings(plain):
            md, tokens = False, plain
    title, tokens = _title(tokens, source, md)

    # Group tokens under headings / numbered items / returns from a table caption.
    raw: list[_RawSection] = [_RawSection(None, [])]
    for tok in tokens:
        if tok.kind in {"heading", "item", "resume"}:
            raw.append(_RawSection(tok, []))
        else:
            raw[-1].contents.append(tok)

    guide = Guide(source=source, title=title, text=text, sha256=sha256_text(text), sections=[])
    if md:
        _paths_markdown(raw, title)
    else:
        _paths_plain(raw, title, text)

    block = 0
    seq: list[clutter.RawSection] = []
    for sec in raw:
        if sec.heading is None and not sec.contents:
            continue
        if sec.heading is not None and sec.heading.kind == "heading" and not sec.contents:
            seq.append(clutter.RawSection(heading=sec.heading.text, path=sec.path, units=[]))
        units: list[Unit] = []
        if sec.role == "fact":
            start, end = sec.heading.start, sec.contents[-1].end
            units.append(Unit(kind="fact", text=text[start:end], char_start=start, char_end=end, block=block))
            value = " ".join(_plain(t, text) for t in sec.contents)
            guide.facts.append(Fact(label=sec.heading.text, value=value))
            block += 1
        else:
            if sec.heading is not None and sec.heading.kind == "item" and sec.heading.years:
                h = sec.heading
                units.append(
                    Unit(kind="fact", text=text[h.start : h.end], char_start=h.start, char_end=h.end, block=block)
                )
                block += 1
            prev: Token | None = None
            for tok in sec.contents:
                # A line ending with a colon keeps the list it introduces in its block.
                joined = (
                    bool(units) and prev is not None and tok.kind in LIST_KINDS and _introduces(prev, units[-1], tok)
                )
                units.extend(_units(tok, text, units[-1].block if joined else block))
                block += 1
                prev = tok
        if sec.heading is not None and sec.heading.kind == "item":
            _record_item(guide, sec, text)
        if md and sec.heading is not None:
            m = HEADING_YEARS_RE.match(sec.heading.text)
            if m:
                body = " ".join(_plain(t, text) for t in sec.contents)
                guide.levels.append(
                    ListItem(number=len(guide.levels) + 1, title=m.group(1), years=m.group(2), text=body)
                )
        for tok in sec.contents:
            if tok.kind == "bullets":
                guide.facts.extend(_bullet_facts(tok, text))
        if sec.role == "faq":
            answer = " ".join(_plain(t, text) for t in sec.contents)
            guide.faq.append(FaqPair(question=sec.heading.text, answer=answer))
        for tok in sec.contents:
            if tok.kind == "table":
                guide.tables.append([TableRow(columns=tok.columns or [], cells=c) for c in tok.cells])
                guide.facts.extend(_row_facts(tok))
            if tok.kind == "md_ordered" and not _under_item(sec) and len(tok.spans) > 1:
                for k, (s, e) in enumerate(tok.spans, tok.number or 1):
                    guide.steps.append(ListItem(number=k, title=f"Step {k}", text=_span_plain(tok, text, s, e)))
        if not units:
            continue
        start = sec.heading.start if sec.heading is not None and sec.heading.kind != "resume" else units[0].char_start
        section = Section(
            heading_path=sec.path,
            char_start=min(start, units[0].char_start),
            char_end=units[-1].char_end,
            units=units,
        )
        guide.sections.append(section)
        heading = sec.heading.text if sec.heading is not None and sec.heading.kind != "resume" else None
        seq.append(clutter.RawSection(heading=heading, path=sec.path, units=list(units), section=section))
    if not guide.sections and text.strip():
        s = len(text) - len(text.lstrip())
        e = len(text.rstrip())
        units = _units(Token("para", s, e), text, 0)
        guide.sections.append(Section(heading_path=[title], char_start=s, char_end=e, units=units))
    if guide.sections:
        # Clutter and staff exclusions leave the sections, never the guide's text or offsets.
        guide.excluded = clutter.sift(seq, exclude, shared)
        guide.sections = [s for s in guide.sections if s.units]
        for sec in guide.sections:
            sec.char_end = sec.units[-1].char_end
    return guide


def _introduces(prev: Token, last: Unit, tok: Token) -> bool:
    """Does ``last`` (the final unit of ``prev``) introduce the list ``tok``?

    "Key responsibilities include:" does; so does a plain-text line left
    unfinished right above its list ("For more information, visit").
    """
    end = (last.plain or last.text).rstrip()
    if end.endswith(":"):
        return True
    return prev.kind == "para" and prev.group is not None and prev.group == tok.group and end[-1:].isalnum()


def _row_facts(tok: Token) -> list[Fact]:
    """Rows of a two-column table without a header are label/value facts."""
    if tok.columns is not None or any(len(c) != 2 for c in tok.cells):
        return []
    return [Fact(label=a, value=b) for a, b in tok.cells if a and b]


def _span_plain(tok: Token, text: str, s: int, e: int) -> str:
    """A span's text on one line, without Markdown markup when it has some."""
    return markdown.plain_inline(text[s:e]) if tok.markup else " ".join(text[s:e].split())


def _bullet_facts(tok: Token, text: str) -> list[Fact]:
    """A list whose every item is a short "Label: value" pair is a list of facts."""
    facts = []
    for s, e in tok.spans:
        m = BULLET_FACT_RE.match(_span_plain(tok, text, s, e))
        if m is None or len(m.group(2).split()) > 12:
            return []
        facts.append(Fact(label=m.group(1).strip(), value=m.group(2).strip()))
    return facts


def _plain(tok: Token, text: str) -> str:
    """A token's text on one line; list items joined with semicolons."""
    if tok.kind in {"inline_list", "bullets", "md_ordered"}:
        return "; ".join(_span_plain(tok, text, s, e) for s, e in tok.spans)
    return _span_plain(tok, text, tok.start, tok.end)


def _under_item(sec: _RawSection) -> bool:
    return sec.heading is not None and sec.heading.kind == "item"


def _record_item(guide: Guide, sec: _RawSection, text: str) -> None:
    h = sec.heading
    body = " ".join(" ".join(text[t.start : t.end].split()) for t in sec.contents if t.kind == "para")
    if h.years:
        years = text[h.years[0] : h.years[1]]
        guide.levels.append(ListItem(number=h.number, title=h.text, years=years, text=body))
    elif STEP_TITLE_RE.match(h.text) or body:
        guide.steps.append(ListItem(number=h.number, title=h.text, text=body))


def _title(tokens: list[Token], source: str, md: bool) -> tuple[str, list[Token]]:
    """The first heading when it opens the page (a level-1 heading in Markdown), else the file name."""
    if tokens and tokens[0].kind == "heading" and (not md or tokens[0].level == 1):
        return strip_enumeration(tokens[0].text), tokens[1:]
    stem = PurePath(source).stem
    return re.sub(r"[-_]+", " ", stem).strip().title() or "Guide", tokens


def _paths_markdown(raw: list[_RawSection], title: str) -> None:
    stack: list[tuple[int, str]] = []
    for sec in raw:
        if sec.heading is not None:
            lvl = sec.heading.level or 6
            while stack and stack[-1][0] >= lvl:
                stack.pop()
            # "## Role" then "### Role": the sub-heading repeats its parent, one section.
            if not stack or stack[-1][1] != sec.heading.text:
                stack.append((lvl, sec.heading.text))
        sec.path = [title, *(h for _, h in stack)]
        if sec.heading is not None and is_question_heading(sec.heading.text) and sec.contents:
            sec.role = "faq"
    _mark_faq_runs(raw)


def _paths_plain(raw: list[_RawSection], title: str, text: str) -> None:
    parent: str | None = None  # heading that owns the following facts / FAQ / items
    fact_run = False
    item_parent: str | None = None
    item_subheads: set[str] = set()
    current_item: str | None = None
    current_number = 0
    repeated = _repeated_headings(raw)
    prev_empty_heading: str | None = None
    paths: dict[int, list[str]] = {}  # heading token id -> its path, for headings it owns
    for k, sec in enumerate(raw):
        h = sec.heading
        if h is None:
            sec.path = [title]
            continue
        owner_path = paths.get(id(h.owner)) if h.owner is not None else None
        if h.kind == "resume":
            sec.path = list(owner_path or [title])
            prev_empty_heading = None
            fact_run = False
            continue
        if h.kind == "item":
            if current_item is None or h.number <= current_number:
                item_parent = None
                item_subheads = set()
            current_number = h.number
            if item_parent is None:
                item_parent = parent_for_items(raw, k)
            label = h.text
            if h.years:
                label = f"{h.text} ({text[h.years[0] : h.years[1]]})"
            current_item = label
            sec.path = [title, item_parent, label] if item_parent else [title, label]
            sec.role = "item"
            prev_empty_heading = None
            continue
        if current_item is not None:
            if h.text in item_subheads or _next_item_follows(raw, k, current_number):
                item_subheads.add(h.text)
                base = [title, item_parent] if item_parent else [title]
                sec.path = [*base, current_item, h.text]
                continue
            current_item = None
            item_parent = None
            item_subheads = set()
        if _is_fact_like(sec, text) and (prev_empty_heading is not None or fact_run):
            if prev_empty_heading is not None:
                parent = prev_empty_heading
            fact_run = True
            sec.role = "fact"
            sec.path = [title, parent, h.text] if parent else [title, h.text]
        elif (
            fact_run
            and sec.contents
            and _content_words(sec, text) <= FACT_MAX_WORDS
            and not any(t.kind in {"bullets", "table"} for t in sec.contents)
        ):
            sec.role = "fact"
            sec.path = [title, parent, h.text] if parent else [title, h.text]
        else:
            fact_run = False
            if owner_path is not None:
                sec.path = [*owner_path, h.text]
            elif prev_empty_heading is not None:
                sec.path = [title, prev_empty_heading, h.text]
            else:
                sec.path = [title, h.text]
        # An empty heading owns the next one, unless it is boilerplate repeated
        # across the page ("View examples").
        prev_empty_heading = h.text if not sec.contents and h.text not in repeated else None
        paths[id(h)] = sec.path
    _mark_faq_runs(raw)


def _repeated_headings(raw: list[_RawSection]) -> set[str]:
    seen: dict[str, int] = {}
    for sec in raw:
        if sec.heading is not None and sec.heading.kind == "heading":
            seen[sec.heading.text] = seen.get(sec.heading.text, 0) + 1
    return {h for h, c in seen.items() if c > 1}


def _next_item_follows(raw: list[_RawSection], k: int, number: int) -> bool:
    """True when the next numbered item after section ``k`` continues the list."""
    for sec in raw[k + 1 :]:
        if sec.heading is not None and sec.heading.kind == "item":
            return sec.heading.number == number + 1
    return False


def parent_for_items(raw: list[_RawSection], k: int) -> str | None:
    """The last ordinary heading before the first numbered item at ``k``."""
    for sec in reversed(raw[:k]):
        if sec.heading is not None and sec.heading.kind == "heading":
            return sec.heading.text
    return None


def _mark_faq_runs(raw: list[_RawSection]) -> None:
    """Runs of >= 2 question headings, each answered by a few paragraphs, are an FAQ."""
    k = 0
    while k < len(raw):
        run = []
        j = k
        while j < len(raw) and _is_qa(raw[j]):
            run.append(raw[j])
            j += 1
        if len(run) >= 2:
            # The heading right above the run ("Frequently Asked Questions") owns it,
            # unless it is itself a sub-section of another heading.
            before = raw[k - 1] if k > 0 else None
            owner = None
            if before is not None and before.heading is not None:
                if not before.contents or before.heading.owner is None:
                    owner = before.path[-1]
            for sec in run:
                sec.role = "faq"
                if owner and owner not in sec.path[:-1]:
                    sec.path = [sec.path[0], owner, sec.heading.text]
            k = j
        else:
            for sec in run:
                if sec.role == "faq":
                    sec.role = "plain"
            k = j + 1 if j == k else j


def _is_qa(sec: _RawSection) -> bool:
    return (
        sec.heading is not None
        and sec.heading.kind == "heading"
        and is_question_heading(sec.heading.text)
        and 0 < len(sec.contents) <= FAQ_MAX_PARAGRAPHS
        and all(t.kind == "para" for t in sec.contents)
    )


def _unit(tok: Token, text: str, s: int, e: int, kind: UnitKind, block: int, **kw: object) -> Unit:
    plain = None
    if tok.markup:
        stripped = markdown.plain_inline(text[s:e])
        plain = stripped if stripped != text[s:e] else None
    return Unit(kind=kind, text=text[s:e], char_start=s, char_end=e, block=block, plain=plain, **kw)  # type: ignore[arg-type]


def _units(tok: Token, text: str, block: int) -> list[Unit]:
    if tok.kind == "para":
        return [
            _unit(tok, text, s, e, "sentence", block)
            for s, e in _run_in_joined(split_sentences(text, tok.start, tok.end), text)
        ]
    if tok.kind in {"bullets", "md_ordered"}:
        return [_unit(tok, text, s, e, "bullet", block) for s, e in tok.spans]
    if tok.kind == "inline_list":
        return [_unit(tok, text, s, e, "item", block) for s, e in tok.spans]
    if tok.kind == "table":
        rows = tok.spans
        units = []
        if tok.header:
            (hs, he), *rows = tok.spans
            units.append(_unit(tok, text, hs, he, "heading", block, columns=tok.columns))
        for (s, e), cells in zip(rows, tok.cells, strict=True):
            units.append(_unit(tok, text, s, e, "table_row", block, columns=tok.columns, cells=cells))
        return units
    return []


def _run_in_joined(spans: list[tuple[int, int]], text: str) -> list[tuple[int, int]]:
    """Sentence spans, short ones gathered into the next (``RUN_IN_MAX_WORDS``)."""
    joined: list[tuple[int, int]] = []
    start: int | None = None
    for k, (s, e) in enumerate(spans):
        s = s if start is None else start
        short = len(text[s:e].split()) <= RUN_IN_MAX_WORDS
        if k + 1 < len(spans) and short and clutter.unit_signal(text[s:e], set(), frozenset()) is None:
            start = s
            continue
        joined.append((s, e))
        start = None
    return joined


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_corpus(corpus_dir: Path, guides: Sequence[GuideFile]) -> list[Guide]:
    """Parse the guides of one corpus folder, in order, with what the corpus knows about them.

    Two things are only visible from the whole corpus: the sections staff
    excluded in ``coach.toml`` (:func:`coach.clutter.load_settings`), and
    lines a publisher repeats across its guides (boilerplate, one more clutter
    signal). The index build should parse through this function.
    """
    settings = clutter.load_settings(corpus_dir)
    shared = clutter.shared_lines({g.source: g.text.splitlines() for g in guides})
    return [parse_guide(g.text, g.source, settings.exclude_for(g.source), shared[g.source]) for g in guides]


def excluded_sections(corpus_dir: Path) -> dict[str, list[ExcludedSection]]:
    """What each guide of the corpus keeps out of answers (site clutter and staff exclusions), for the staff page.

    ``{source: [ExcludedSection, ...]}`` for every usable guide, in corpus
    order; a guide with nothing excluded maps to an empty list. Raises
    :class:`coach.errors.CoachError` when the corpus or ``coach.toml`` cannot be read.
    """
    from coach.corpus import scan_corpus

    scan = scan_corpus(corpus_dir)
    return {g.source: g.excluded for g in parse_corpus(corpus_dir, scan.guides)}
