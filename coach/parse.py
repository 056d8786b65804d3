"""Parse a career guide into sections of quotable units.

Two input shapes are understood:

* plain text flattened from a web page (headings on their own lines, bullets,
  lone numbers before steps and career levels, tables whose cells were glued
  together, an FAQ of question lines each followed by an answer paragraph);
* Markdown (``#`` headings, ``-``/``*`` bullets, ``1.`` lists, pipe tables).

Every unit keeps exact character offsets into the source text. Nothing here
is tuned to one guide: the rules are about shapes (short title-like line
between blank lines, a run of question lines, a header row whose cell count
matches the rows below it), not about words.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import PurePath

from coach.records import Fact, FaqPair, Guide, ListItem, Section, TableRow, Unit
from coach.sentences import split_sentences

BULLET_RE = re.compile(r"^([•●▪◦‣∙·\-*–+])\s+")
MD_HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
MD_ORDERED_RE = re.compile(r"^(\d{1,3})[.)]\s+")
LONE_NUMBER_RE = re.compile(r"^\d{1,3}$")
YEARS_RE = re.compile(r"^\(?\s*\d+\s*(?:[-–]\s*\d+|\+)?\s*\+?\s*(?:years?|yrs?)\b.*\)?$", re.I)
STEP_TITLE_RE = re.compile(r"^(?:step|stage|phase)\s+\d+\b", re.I)
VALUE_START_RE = re.compile(r"^[$€£¥≈~<>±]")
LABEL_VALUE_RE = re.compile(r"^[^:]{1,40}:\s+\S")
GLUE_RE = re.compile(r"(?<=[a-z0-9%)\]])(?=[A-Z])|(?<=[^\s$€£])(?=[$€£])")
HEADING_YEARS_RE = re.compile(r"^(.*?)\s*[(\[–-]\s*(\d+\s*(?:[-–]\s*\d+|\+)\s*years?)\s*[)\]]?$", re.I)
BULLET_FACT_RE = re.compile(r"^\**([^:*]{1,40}?)\**\s*:\s*\**\s*(.+)$")
FACT_MAX_WORDS = 40
FAQ_MAX_PARAGRAPHS = 3


@dataclass
class Line:
    start: int
    end: int
    text: str
    blank_before: bool
    blank_after: bool = False


@dataclass
class Token:
    kind: str  # heading | para | bullets | table | inline_list | item | md_ordered
    start: int
    end: int
    text: str = ""
    level: int = 0
    spans: list[tuple[int, int]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    cells: list[list[str]] = field(default_factory=list)
    number: int = 0
    years: tuple[int, int] | None = None


def read_lines(text: str) -> list[Line]:
    """Non-blank lines with offsets of their stripped content."""
    lines: list[Line] = []
    pos = 0
    blank = True
    for raw in text.splitlines(keepends=True):
        stripped = raw.strip()
        if stripped:
            lead = len(raw) - len(raw.lstrip())
            start = pos + lead
            if lines and blank:
                lines[-1].blank_after = True
            lines.append(Line(start, start + len(stripped), stripped, blank))
            blank = False
        else:
            blank = True
        pos += len(raw)
    if lines:
        lines[-1].blank_after = True
    return lines


def _words(text: str) -> list[str]:
    return text.split()


def is_title_like(text: str, max_words: int = 14) -> bool:
    """A short line that reads like a heading, not a sentence or a value."""
    words = _words(text)
    if not words or len(words) > max_words or len(text) > 110:
        return False
    if text[-1] in ".,;:!" or VALUE_START_RE.match(text) or LABEL_VALUE_RE.match(text):
        return False
    if not (text[0].isupper() or text[0].isdigit()):
        return False
    alpha = [w for w in words if re.search(r"[A-Za-z]{2,}", w)]
    return len(alpha) / len(words) >= 0.6


def is_question_heading(text: str) -> bool:
    return text.endswith("?") and 3 <= len(_words(text)) <= 30 and text[0].isupper()


def split_glued(text: str) -> list[str]:
    """Split a flattened table line into cells: tabs, 2+ spaces, pipes or glued words."""
    if "\t" in text:
        parts = text.split("\t")
    elif "|" in text:
        parts = text.strip("|").split("|")
    elif re.search(r"\S {2,}\S", text):
        parts = re.split(r" {2,}", text)
    else:
        parts = GLUE_RE.split(text)
    return [p.strip() for p in parts if p.strip()]


def _tokenize(text: str, markdown: bool) -> list[Token]:
    lines = read_lines(text)
    tokens: list[Token] = []
    i = 0
    n = len(lines)
    while i < n:
        ln = lines[i]
        t = ln.text
        # Markdown heading.
        m = MD_HEADING_RE.match(t)
        if markdown and m:
            start = ln.start + t.index(m.group(2)) if m.group(2) else ln.end
            tokens.append(Token("heading", start, start + len(m.group(2)), m.group(2), level=len(m.group(1))))
            i += 1
            continue
        # Pipe table (Markdown) or flattened table: header + rows with the same cell count.
        table = _table_at(lines, i)
        if table is not None:
            tokens.append(table[0])
            i = table[1]
            continue
        # Bullets: a run of bullet lines, blank lines allowed between them.
        if BULLET_RE.match(t):
            spans: list[tuple[int, int]] = []
            while i < n and BULLET_RE.match(lines[i].text):
                cur = lines[i]
                off = BULLET_RE.match(cur.text).end()
                spans.append((cur.start + off, cur.end))
                nxt = lines[i + 1] if i + 1 < n else None
                # A title-like last bullet followed by a blank line and another
                # list is a flattened sub-heading ("• Technical Skills").
                if (
                    nxt is not None
                    and cur.blank_after
                    and BULLET_RE.match(nxt.text)
                    and len(_words(cur.text[off:])) <= 5
                    and is_title_like(cur.text[off:])
                    and len(spans) > 1
                    and not markdown
                ):
                    spans.pop()
                    tokens.append(Token("bullets", spans[0][0], spans[-1][1], spans=spans))
                    tokens.append(Token("heading", cur.start + off, cur.end, cur.text[off:]))
                    spans = []
                i += 1
            if spans:
                tokens.append(Token("bullets", spans[0][0], spans[-1][1], spans=spans))
            continue
        if MD_ORDERED_RE.match(t):
            spans = []
            while i < n and MD_ORDERED_RE.match(lines[i].text):
                cur = lines[i]
                off = MD_ORDERED_RE.match(cur.text).end()
                spans.append((cur.start + off, cur.end))
                i += 1
            tokens.append(Token("md_ordered", spans[0][0], spans[-1][1], spans=spans))
            continue
        # Lone numbers: "1\nHospitals\n2\n..." (inline list) or "1\n\nStep 1" (item).
        if LONE_NUMBER_RE.match(t) and i + 1 < n and not markdown:
            nxt = lines[i + 1]
            if not ln.blank_after:
                spans = []
                while i + 1 < n and LONE_NUMBER_RE.match(lines[i].text) and not lines[i].blank_after:
                    spans.append((lines[i + 1].start, lines[i + 1].end))
                    i += 2
                    if lines[i - 1].blank_after:
                        break
                tokens.append(Token("inline_list", spans[0][0], spans[-1][1], spans=spans))
                continue
            if is_title_like(nxt.text) or STEP_TITLE_RE.match(nxt.text):
                tok = Token("item", nxt.start, nxt.end, nxt.text, number=int(t))
                i += 2
                if i < n and YEARS_RE.match(lines[i].text) and len(lines[i].text) < 30:
                    tok.years = (lines[i].start, lines[i].end)
                    tok.end = lines[i].end
                    i += 1
                tokens.append(tok)
                continue
        # Heading: a title-like line standing alone between blank lines.
        standalone = ln.blank_before or i == 0
        list_follows = i + 1 < n and LONE_NUMBER_RE.match(lines[i + 1].text) is not None
        if (
            standalone
            and (ln.blank_after or list_follows)
            and not markdown
            and (is_title_like(t) or is_question_heading(t))
        ):
            tokens.append(Token("heading", ln.start, ln.end, t))
            i += 1
            continue
        if markdown and re.fullmatch(r"\*\*[^*]{1,100}\*\*", t) and ln.blank_after:
            tokens.append(Token("heading", ln.start + 2, ln.end - 2, t[2:-2], level=6))
            i += 1
            continue
        # Paragraph: consecutive text lines (soft-wrapped Markdown or plain text).
        start = ln.start
        end = ln.end
        i += 1
        while i < n and not lines[i - 1].blank_after and not _starts_block(lines[i].text, markdown):
            end = lines[i].end
            i += 1
        tokens.append(Token("para", start, end, text[start:end]))
    return tokens


def _starts_block(t: str, markdown: bool) -> bool:
    return bool(
        BULLET_RE.match(t)
        or (markdown and (MD_HEADING_RE.match(t) or MD_ORDERED_RE.match(t) or t.startswith("|")))
        or LONE_NUMBER_RE.match(t)
    )


def _table_at(lines: list[Line], i: int) -> tuple[Token, int] | None:
    """A table starting at line ``i``: a header, then >= 2 rows with as many cells."""
    head = lines[i]
    if head.blank_after or BULLET_RE.match(head.text):
        return None
    cols = split_glued(head.text)
    if len(cols) < 2 or any(len(c) > 40 for c in cols):
        return None
    j = i + 1
    if j < len(lines) and re.fullmatch(r"\|?\s*:?-{2,}.*", lines[j].text):
        j += 1  # Markdown separator row
    rows: list[Line] = []
    cells: list[list[str]] = []
    while j < len(lines):
        row_cells = split_glued(lines[j].text)
        if len(row_cells) != len(cols):
            break
        rows.append(lines[j])
        cells.append(row_cells)
        j += 1
        if lines[j - 1].blank_after:
            break
    if len(rows) < 2:
        return None
    tok = Token("table", head.start, rows[-1].end, head.text, columns=cols, cells=cells)
    tok.spans = [(r.start, r.end) for r in rows]
    tok.spans.insert(0, (head.start, head.end))
    return tok, j


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


def parse_guide(text: str, source: str) -> Guide:
    """Parse ``text`` (the whole file) into a :class:`Guide`. ``source`` is its relative path."""
    markdown = source.lower().endswith((".md", ".markdown")) or bool(len(re.findall(r"(?m)^#{1,3} \S", text)) >= 2)
    tokens = _tokenize(text, markdown)
    title, tokens = _title(tokens, text, source, markdown)

    # Group tokens under headings / numbered items.
    raw: list[_RawSection] = [_RawSection(None, [])]
    for tok in tokens:
        if tok.kind in {"heading", "item"}:
            raw.append(_RawSection(tok, []))
        else:
            raw[-1].contents.append(tok)

    guide = Guide(source=source, title=title, text=text, sha256=sha256_text(text), sections=[])
    if markdown:
        _paths_markdown(raw, title)
    else:
        _paths_plain(raw, title, text)

    block = 0
    for sec in raw:
        if sec.heading is None and not sec.contents:
            continue
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
            for tok in sec.contents:
                units.extend(_units(tok, text, block))
                block += 1
        if sec.heading is not None and sec.heading.kind == "item":
            _record_item(guide, sec, text)
        if markdown and sec.heading is not None:
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
            answer = " ".join(" ".join(text[t.start : t.end].split()) for t in sec.contents)
            guide.faq.append(FaqPair(question=sec.heading.text, answer=answer))
        for tok in sec.contents:
            if tok.kind == "table":
                guide.tables.append([TableRow(columns=tok.columns, cells=c) for c in tok.cells])
            if tok.kind == "md_ordered" and not _under_item(sec):
                for k, (s, e) in enumerate(tok.spans, 1):
                    guide.steps.append(ListItem(number=k, title=f"Step {k}", text=text[s:e]))
        if not units:
            continue
        start = sec.heading.start if sec.heading is not None else units[0].char_start
        guide.sections.append(
            Section(
                heading_path=sec.path,
                char_start=min(start, units[0].char_start),
                char_end=units[-1].char_end,
                units=units,
            )
        )
    if not guide.sections and text.strip():
        s = len(text) - len(text.lstrip())
        e = len(text.rstrip())
        units = _units(Token("para", s, e), text, 0)
        guide.sections.append(Section(heading_path=[title], char_start=s, char_end=e, units=units))
    return guide


def _bullet_facts(tok: Token, text: str) -> list[Fact]:
    """A list whose every item is a short "Label: value" pair is a list of facts."""
    facts = []
    for s, e in tok.spans:
        m = BULLET_FACT_RE.match(text[s:e])
        if m is None or len(m.group(2).split()) > 12:
            return []
        facts.append(Fact(label=m.group(1).strip(), value=m.group(2).strip()))
    return facts


def _plain(tok: Token, text: str) -> str:
    """A token's text on one line; list items joined with semicolons."""
    if tok.kind in {"inline_list", "bullets", "md_ordered"}:
        return "; ".join(" ".join(text[s:e].split()) for s, e in tok.spans)
    return " ".join(text[tok.start : tok.end].split())


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


def _title(tokens: list[Token], text: str, source: str, markdown: bool) -> tuple[str, list[Token]]:
    if tokens and tokens[0].kind == "heading" and (not markdown or tokens[0].level == 1):
        return tokens[0].text, tokens[1:]
    stem = PurePath(source).stem
    return re.sub(r"[-_]+", " ", stem).strip().title() or "Guide", tokens


def _paths_markdown(raw: list[_RawSection], title: str) -> None:
    stack: list[tuple[int, str]] = []
    for sec in raw:
        if sec.heading is not None:
            lvl = sec.heading.level or 6
            while stack and stack[-1][0] >= lvl:
                stack.pop()
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
    for k, sec in enumerate(raw):
        h = sec.heading
        if h is None:
            sec.path = [title]
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
            if prev_empty_heading is not None:
                sec.path = [title, prev_empty_heading, h.text]
            else:
                sec.path = [title, h.text]
        # An empty heading owns the next one, unless it is boilerplate repeated
        # across the page ("View examples").
        prev_empty_heading = h.text if not sec.contents and h.text not in repeated else None
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
            owner = raw[k - 1].path[-1] if k > 0 and raw[k - 1].heading is not None else None
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


def _units(tok: Token, text: str, block: int) -> list[Unit]:
    if tok.kind == "para":
        return [
            Unit(kind="sentence", text=text[s:e], char_start=s, char_end=e, block=block)
            for s, e in split_sentences(text, tok.start, tok.end)
        ]
    if tok.kind in {"bullets", "md_ordered"}:
        return [Unit(kind="bullet", text=text[s:e], char_start=s, char_end=e, block=block) for s, e in tok.spans]
    if tok.kind == "inline_list":
        return [Unit(kind="item", text=text[s:e], char_start=s, char_end=e, block=block) for s, e in tok.spans]
    if tok.kind == "table":
        (hs, he), *rows = tok.spans
        units = [Unit(kind="heading", text=text[hs:he], char_start=hs, char_end=he, block=block, columns=tok.columns)]
        for (s, e), cells in zip(rows, tok.cells, strict=True):
            units.append(
                Unit(
                    kind="table_row",
                    text=text[s:e],
                    char_start=s,
                    char_end=e,
                    block=block,
                    columns=tok.columns,
                    cells=cells,
                )
            )
        return units
    return []


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
