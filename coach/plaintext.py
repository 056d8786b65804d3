"""Read a plain-text guide (a web page flattened to lines) into block tokens.

Shapes understood, none tied to one publisher:

* headings: a short title-like line standing alone between blank lines, or
  directly followed by a paragraph, a list or a table (no blank line needed;
  in sentence case only when it opens its run of lines and a whole paragraph
  follows, "Front-end developer job outlook");
  a heading directly followed by another heading is its parent, and the
  heading that opens a blank-line-separated run owns the other headings of
  that run, unless the run is a list of entries (every heading followed by
  one or two short paragraphs: role titles with their descriptions);
* a stack of short lines between a heading and the text it introduces
  (a byline, a date) is kept as lines, not as nested headings;
* bullets, ``1.`` lists, lone numbers before steps and career levels, and
  numbered lines standing alone over a paragraph (numbered steps or headings);
* tables: lines of TAB-separated cells (header row detected from the cells'
  shape), or a header and rows whose cells were glued together; a short line
  right above a table is its caption, and the text after the table goes back
  to the section the caption sits in;
* paragraphs: a line that ends a sentence ends its paragraph; a line that
  does not runs on into the next one, unless that one is a whole sentence.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from coach.blocks import (
    Token,
    ends_sentence,
    is_capitalized,
    is_caption_like,
    is_question_heading,
    is_title_like,
    is_value_cell,
    words,
)

BULLET_RE = re.compile(r"^([•●▪◦‣∙·\-*–+])\s+")
ORDERED_RE = re.compile(r"^(\d{1,3})[.)]\s+")
LONE_NUMBER_RE = re.compile(r"^\d{1,3}$")
YEARS_RE = re.compile(r"^\(?\s*\d+\s*(?:[-–]\s*\d+|\+)?\s*\+?\s*(?:years?|yrs?)\b.*\)?$", re.I)
STEP_TITLE_RE = re.compile(r"^(?:step|stage|phase)\s+\d+\b", re.I)
GLUE_RE = re.compile(r"(?<=[a-z0-9%)\]])(?=[A-Z])|(?<=[^\s$€£])(?=[$€£])")
# A heading directly above its text may be a question ("What Is a Controller?") of this many words.
QUESTION_HEADING_MAX_WORDS = 20
# A run of headings each followed by at most this many short paragraphs is a list
# of entries (siblings), not a section with sub-sections.
ENTRY_MAX_PARAGRAPHS = 2
ENTRY_MIN_HEADINGS = 2
# A line without a final stop is text (not one more short label) above this many words.
TEXT_MIN_WORDS = 10
# A heading in sentence case, directly above its paragraph, has at most this many words.
SENTENCE_CASE_HEADING_MAX_WORDS = 10


@dataclass
class Line:
    start: int
    end: int
    text: str
    """The line stripped of surrounding whitespace; ``start``/``end`` bound it."""
    blank_before: bool
    blank_after: bool = False
    raw: str = ""
    """The whole line without its line break, tabs kept (cells may be empty)."""
    group: int = 0
    """Index of the blank-line-separated run of lines this line belongs to."""


def read_lines(text: str) -> list[Line]:
    """Non-blank lines with offsets of their stripped content."""
    lines: list[Line] = []
    pos = 0
    blank = True
    group = -1
    for raw in text.splitlines(keepends=True):
        stripped = raw.strip()
        if stripped:
            lead = len(raw) - len(raw.lstrip())
            start = pos + lead
            if lines and blank:
                lines[-1].blank_after = True
            if blank:
                group += 1
            body = raw.rstrip("\r\n")
            lines.append(Line(start, start + len(stripped), stripped, blank, raw=body, group=group))
            blank = False
        else:
            blank = True
        pos += len(raw)
    if lines:
        lines[-1].blank_after = True
    return lines


def tab_cells(line: Line) -> list[str] | None:
    """The cells of a TAB-separated table row, or None when the line is not one."""
    cells = line.raw.rstrip(" ").split("\t")
    if len(cells) < 2 or sum(1 for c in cells if c.strip()) < 2:
        return None
    return [c.strip() for c in cells]


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


def _starts_block(line: Line) -> bool:
    t = line.text
    return bool(
        BULLET_RE.match(t) or ORDERED_RE.match(t) or LONE_NUMBER_RE.match(t) or tab_cells(line) or _pipe_row(line)
    )


FIGURE_RE = re.compile(r"[-+−–]?\s?[$€£¥₹]?\s?\d[\d,.]*\s?(?:%|[kKmM])?")
"""A table cell that is only a figure ("$63,180", "-11%", "21"), not a label with a number ("2024 MEDIAN PAY")."""
YEAR_RE = re.compile(r"(?:19|20)\d\d")


def _pipe_row(line: Line) -> bool:
    """A table row copied with its cells between pipes ("Tool and die makers | $63,180"): never a
    heading, a byline or the rest of a paragraph, whether or not a table can be made of it."""
    t = line.text
    return (" | " in t or t.startswith("|")) and len(split_glued(t)) >= 2


def _pipes_only(line: Line) -> bool:
    """A block start only for its pipes: a page title may be one ("How to become a nurse | NurseBlog")."""
    t = line.text
    return _pipe_row(line) and not (
        BULLET_RE.match(t) or ORDERED_RE.match(t) or LONE_NUMBER_RE.match(t) or tab_cells(line)
    )


def _heading_candidate(line: Line, title: bool = False) -> bool:
    """A line that may be a heading when text follows it directly (a page ``title`` may hold pipes)."""
    t = line.text
    if _starts_block(line) and not (title and _pipes_only(line)):
        return False
    if is_question_heading(t) and len(words(t)) <= QUESTION_HEADING_MAX_WORDS:
        return True
    return is_title_like(t) and is_capitalized(t)


def _page_title(line: Line) -> bool:
    """A page's first line worded as a title, perhaps with a subtitle after a colon ("X: Salary, Skills and Career Path")."""
    if _heading_candidate(line, title=True):
        return True
    head, colon, sub = line.text.partition(": ")
    return bool(colon) and is_title_like(head) and is_title_like(sub) and is_capitalized(line.text)


def _caption_at(lines: list[Line], i: int) -> bool:
    ln = lines[i]
    return (
        not ln.blank_after
        and i + 1 < len(lines)
        and (
            tab_cells(lines[i + 1]) is not None or (_pipe_row(lines[i + 1]) and _glued_table(lines, i + 1) is not None)
        )
        and not _starts_block(ln)
        and is_caption_like(ln.text)
    )


def _short_line(line: Line) -> bool:
    """A label-like line: a heading candidate, or a few words without a final stop (a byline, a date)."""
    t = line.text
    if _starts_block(line):
        return False
    return _heading_candidate(line) or (not ends_sentence(t) and len(words(t)) <= TEXT_MIN_WORDS)


def _heading_run(lines: list[Line], i: int) -> int:
    """Length of the run of short lines at ``i`` whose last is a heading over the text below (0 if none)."""
    j = i
    while j < len(lines) and not lines[j].blank_after and _short_line(lines[j]) and not _caption_at(lines, j):
        j += 1
    if j == i or j >= len(lines) or not _heading_candidate(lines[j - 1]):
        return 0
    follower = lines[j]
    if _starts_block(follower) or _caption_at(lines, j):
        return j - i
    # Text, not one more short line of a stack ("Job alerts / Weekly / 1 free resume").
    if _short_line(follower):
        return 0
    return j - i


def _sentence_case_heading(lines: list[Line], i: int) -> bool:
    """A heading in sentence case ("Front-end developer job outlook") opening its run, right above a paragraph.

    Title Case is not needed here because the evidence is the shape around the
    line: it follows a blank line, holds a few words without a comma or a final
    stop, and the line under it is a whole paragraph of sentences, not a short
    label or a list.
    """
    ln = lines[i]
    # A page's first line may hold pipes ("How to become a nurse | NurseBlog") unless a table starts there.
    title = i == 0 and _pipes_only(ln) and _glued_table(lines, i) is None
    if not ln.blank_before or ln.blank_after or i + 1 >= len(lines) or (_starts_block(ln) and not title):
        return False
    t = ln.text
    if "," in t or ends_sentence(t) or not is_title_like(t, SENTENCE_CASE_HEADING_MAX_WORDS):
        return False
    return _opens_paragraph(lines, i + 1)


def _opens_paragraph(lines: list[Line], j: int) -> bool:
    """Line ``j`` opens a paragraph of sentences: no block, a capital first, and with the lines it is
    wrapped into, enough words ending a sentence (so a heading sits above it; the line a hard-wrapped
    heading candidate runs on to starts in lower case)."""
    below = lines[j]
    if _starts_block(below) or not below.text[0].isupper():
        return False
    said = len(words(below.text))
    while j + 1 < len(lines) and _continues(lines, j + 1):
        j += 1
        said += len(words(lines[j].text))
    return said >= TEXT_MIN_WORDS and ends_sentence(lines[j].text)


def _heading(line: Line, **kw: object) -> Token:
    return Token("heading", line.start, line.end, line.text, **kw)  # type: ignore[arg-type]


def _run_tokens(lines: list[Line], i: int, length: int) -> list[Token]:
    """Headings (and kept lines) of a heading run; see the module docstring."""
    run = lines[i : i + length]
    first = run[0] if length > 1 and run[0].blank_before and _heading_candidate(run[0]) else None
    middle = run[1:-1] if first is not None else run[:-1]
    heads = [first] if first is not None else []
    if len(middle) == 1 and _heading_candidate(middle[0]):
        heads, middle = [*heads, middle[0]], []
    out = [_heading(ln) for ln in heads]
    out.extend(Token("para", ln.start, ln.end, ln.text) for ln in middle)
    out.append(_heading(run[-1]))
    return out


def _header_row(first: list[str], rest: list[list[str]]) -> bool:
    """Does the first row of a TAB table name its columns?"""
    named = [c for c in first if c]
    if len(named) < 2 or any(is_value_cell(c) for c in first):
        return False
    if any(len(words(c)) > 6 or ends_sentence(c) or not c[0].isupper() or not is_capitalized(c) for c in named):
        return False
    if any(is_value_cell(c) for row in rest for c in row):
        return True
    # No figures anywhere: a header only when its cells are titles and the rows' are not.
    return all(is_title_like(c) for c in named) and any(not is_title_like(c) for row in rest for c in row if c)


def _has_figures(rows: list[tuple[Line, list[str]]]) -> bool:
    return any(is_value_cell(c) for _, cells in rows for c in cells)


def _tab_table(lines: list[Line], i: int) -> tuple[Token, int]:
    first = tab_cells(lines[i]) or []
    rows: list[tuple[Line, list[str]]] = [(lines[i], first)]
    j = i + 1
    while j < len(lines) and not lines[j - 1].blank_after:
        cells = tab_cells(lines[j])
        if cells is None or len(cells) != len(first):
            break
        rows.append((lines[j], cells))
        j += 1
    columns: list[str] | None = None
    data = rows
    if len(rows) >= 2 and _header_row(first, [c for _, c in rows[1:]]):
        columns, data = list(first), rows[1:]
        # Column names split over two lines ("Change, 2016-26" over "Percent | Numeric").
        while len(data) >= 2 and not _has_figures(data[:1]) and _has_figures(data[1:]):
            columns = [f"{a} {b}".strip() for a, b in zip(columns, data[0][1], strict=True)]
            data = data[1:]
    spans = [(ln.start, ln.end) for ln, _ in data]
    if columns is not None:
        spans.insert(0, (lines[i].start, lines[i].end))
    tok = Token("table", spans[0][0], spans[-1][1], columns=columns, cells=[c for _, c in data], spans=spans)
    tok.header = columns is not None
    return tok, j


def _glued_table(lines: list[Line], i: int) -> tuple[Token, int] | None:
    """A table at line ``i``: a header, then >= 2 rows with as many cells (cells glued together).

    Rows written with ``|`` may stand one per paragraph (a web page's table
    copied row by row): a header followed by a blank line is then read on over
    blank lines while each row is a paragraph of its own with the header's pipes
    and cell count, and every row holds a digit (so a run of pipe-separated
    links, "Home | Careers" over "Privacy | Terms", stays what it was).
    """
    head = lines[i]
    spaced = head.blank_after and "|" in head.text
    if (head.blank_after and not spaced) or BULLET_RE.match(head.text) or tab_cells(head):
        return None
    cols = split_glued(head.text)
    # A chart's rows come without a header ("Tool and die makers | $63,180"): a figure in the first row.
    headerless = any(FIGURE_RE.fullmatch(c) and not YEAR_RE.fullmatch(c) for c in cols)
    if len(cols) < 2 or (not headerless and any(len(c) > 40 for c in cols)):
        return None
    j = i + 1
    rows: list[Line] = []
    cells: list[list[str]] = []
    while j < len(lines) and not tab_cells(lines[j]):
        if spaced and ("|" not in lines[j].text or (not lines[j].blank_after and j + 1 < len(lines))):
            break  # a spaced row is a paragraph of its own; a line run on is the next table's header
        row_cells = split_glued(lines[j].text)
        if len(row_cells) != len(cols):
            break
        rows.append(lines[j])
        cells.append(row_cells)
        j += 1
        if lines[j - 1].blank_after and not spaced:
            break
    if len(rows) < 2 or (spaced and not all(any(ch.isdigit() for c in row for ch in c) for row in cells)):
        return None
    if headerless:  # the first line is a row too
        tok = Token("table", head.start, rows[-1].end, columns=None, cells=[cols, *cells], header=False)
        tok.spans = [(r.start, r.end) for r in (head, *rows)]
        return tok, j
    tok = Token("table", head.start, rows[-1].end, head.text, columns=cols, cells=cells, header=True)
    tok.spans = [(head.start, head.end), *((r.start, r.end) for r in rows)]
    return tok, j


def _list_at(lines: list[Line], i: int, tokens: list[Token]) -> int:
    """Bullets from line ``i`` (blank lines allowed between them); returns the next line."""
    n = len(lines)
    spans: list[tuple[int, int]] = []
    while i < n and BULLET_RE.match(lines[i].text):
        cur = lines[i]
        off = BULLET_RE.match(cur.text).end()  # type: ignore[union-attr]
        spans.append((cur.start + off, cur.end))
        nxt = lines[i + 1] if i + 1 < n else None
        # A title-like last bullet followed by a blank line and another
        # list is a flattened sub-heading ("• Technical Skills").
        if (
            nxt is not None
            and cur.blank_after
            and BULLET_RE.match(nxt.text)
            and len(words(cur.text[off:])) <= 5
            and is_title_like(cur.text[off:])
            and len(spans) > 1
        ):
            spans.pop()
            tokens.append(Token("bullets", spans[0][0], spans[-1][1], spans=spans))
            tokens.append(Token("heading", cur.start + off, cur.end, cur.text[off:]))
            spans = []
        i += 1
    if spans:
        tokens.append(Token("bullets", spans[0][0], spans[-1][1], spans=spans))
    return i


def _numbered_item(lines: list[Line], i: int) -> Token | None:
    """A numbered line standing alone over its paragraph ("2. Understand the Role"): a numbered item.

    Flattened pages lose the markup of numbered headings and of numbered steps
    with their explanations, and each such line read as a one-item list, so a
    guide built on them became one section. Read as an ``item`` (the token of
    "1" over "Step title"), each number heads its own section under the heading
    before the run, and the steps are recorded as ``Guide.steps``. The shape
    says which: the line is title-like (a question is allowed, and one final stop, kept in the
    title, on a line as short as a sentence-case heading),
    stands between blank lines (or, on a page flattened without them, is in
    Title Case), follows no list introduction ("... include:", whose numbered
    lines are that list's items) unless the next number heads a paragraph too,
    and the paragraph under it, with the lines it is wrapped into, is sentences
    starting with a capital.
    A run of numbered lines with nothing between them stays a list: the list
    loop in ``tokenize`` takes every numbered line after the first.
    """
    ln = lines[i]
    m = ORDERED_RE.match(ln.text)
    if m is None or i + 1 >= len(lines):
        return None
    title = ln.text[m.end() :]
    # A page flattened without blank lines: a numbered line in Title Case right above its paragraph
    # ("1. Get Proper Certification and Training"; numbered lines one under the other are a list).
    if not (ln.blank_before and ln.blank_after) and not is_capitalized(title):
        return None
    # A step may be written as a short sentence ("1. Develop the necessary skills."): one stop is
    # allowed on a line as short as a sentence-case heading (a longer sentence over it is a list item).
    bare = title[:-1] if title.endswith(".") and not title.endswith("..") else title
    stopped = bare != title
    if not bare or not is_title_like(bare) or not title[0].isupper():
        return None
    if stopped and len(words(bare)) > SENTENCE_CASE_HEADING_MAX_WORDS:
        return None
    if not _opens_paragraph(lines, i + 1):
        return None
    number = int(m.group(1))
    # After a list introduction ("... include:"), numbered lines are that list's items, unless the
    # next number, after this one's paragraph, heads its own paragraph too: then they are steps.
    if i > 0 and lines[i - 1].text.rstrip().endswith(":") and not _next_step(lines, i, number):
        return None
    return Token("item", ln.start + m.end(), ln.end, title, number=number)


def _next_step(lines: list[Line], i: int, number: int) -> bool:
    """Is the numbered line after line ``i``'s paragraph number ``number + 1``, itself a numbered item?"""
    j = i + 2
    while j < len(lines) and _continues(lines, j):
        j += 1
    nxt = ORDERED_RE.match(lines[j].text) if j < len(lines) else None
    return nxt is not None and int(nxt.group(1)) == number + 1 and _numbered_item(lines, j) is not None


def _numbers_at(lines: list[Line], i: int, tokens: list[Token]) -> int | None:
    """Lone numbers: "1\\nHospitals\\n2\\n..." (inline list) or "1\\n\\nStep 1" (item)."""
    n = len(lines)
    ln = lines[i]
    if not ln.blank_after:
        spans = []
        while i + 1 < n and LONE_NUMBER_RE.match(lines[i].text) and not lines[i].blank_after:
            spans.append((lines[i + 1].start, lines[i + 1].end))
            i += 2
            if lines[i - 1].blank_after:
                break
        tokens.append(Token("inline_list", spans[0][0], spans[-1][1], spans=spans))
        return i
    nxt = lines[i + 1]
    if is_title_like(nxt.text) or STEP_TITLE_RE.match(nxt.text):
        tok = Token("item", nxt.start, nxt.end, nxt.text, number=int(ln.text))
        i += 2
        if i < n and YEARS_RE.match(lines[i].text) and len(lines[i].text) < 30:
            tok.years = (lines[i].start, lines[i].end)
            tok.end = lines[i].end
            i += 1
        tokens.append(tok)
        return i
    return None


def tokenize(text: str) -> list[Token]:
    """Block tokens of a plain-text guide, in order, with heading owners set."""
    lines = read_lines(text)
    tokens: list[Token] = []
    i = 0
    n = len(lines)
    while i < n:
        ln = lines[i]
        t = ln.text
        # The page's first line, worded as a title, is its title even when a
        # byline or a code sits right under it ("(NOC 3234)", "By ... | Updated ...").
        if (
            i == 0
            and not ln.blank_after
            and i + 1 < n
            and _page_title(ln)
            and not _heading_run(lines, i)
            and _glued_table(lines, i) is None
        ):
            tokens.append(_heading(ln))
            i += 1
            continue
        if tab_cells(ln):
            tok, i = _tab_table(lines, i)
            tokens.append(tok)
            continue
        table = _glued_table(lines, i)
        if table is not None:
            tokens.append(table[0])
            i = table[1]
            continue
        if BULLET_RE.match(t):
            i = _list_at(lines, i, tokens)
            continue
        if ORDERED_RE.match(t):
            item = _numbered_item(lines, i)
            if item is not None:
                tokens.append(item)
                i += 1
                continue
            spans = []
            while i < n and ORDERED_RE.match(lines[i].text):
                cur = lines[i]
                off = ORDERED_RE.match(cur.text).end()  # type: ignore[union-attr]
                spans.append((cur.start + off, cur.end))
                i += 1
            tokens.append(Token("md_ordered", spans[0][0], spans[-1][1], spans=spans))
            continue
        if LONE_NUMBER_RE.match(t) and i + 1 < n:
            nxt_i = _numbers_at(lines, i, tokens)
            if nxt_i is not None:
                i = nxt_i
                continue
        # Heading: a title-like line standing alone between blank lines.
        list_follows = i + 1 < n and LONE_NUMBER_RE.match(lines[i + 1].text) is not None
        if ln.blank_before and (ln.blank_after or list_follows) and (is_title_like(t) or is_question_heading(t)):
            tokens.append(_heading(ln))
            i += 1
            continue
        if _sentence_case_heading(lines, i):
            tokens.append(_heading(ln))
            i += 1
            continue
        if _caption_at(lines, i):
            tokens.append(_heading(ln, caption=True))
            i += 1
            continue
        run = _heading_run(lines, i)
        if run:
            tokens.extend(_run_tokens(lines, i, run))
            i += run
            continue
        # Paragraph: a line, and the lines it is soft-wrapped into.
        start, end = ln.start, ln.end
        i += 1
        while i < n and _continues(lines, i):
            end = lines[i].end
            i += 1
        tokens.append(Token("para", start, end, text[start:end]))
    starts = [ln.start for ln in lines]
    for tok in tokens:
        tok.group = lines[max(0, bisect.bisect_right(starts, tok.start) - 1)].group
    _assign_owners(tokens)
    return _resume_after_captions(tokens)


def _continues(lines: list[Line], i: int) -> bool:
    """Is line ``i`` the soft-wrapped rest of the paragraph on line ``i - 1``?"""
    prev, cur = lines[i - 1], lines[i]
    return not (
        prev.blank_after
        or ends_sentence(prev.text)
        or (cur.text[0].isupper() and ends_sentence(cur.text))
        or _starts_block(cur)
        or _caption_at(lines, i)
        or _heading_run(lines, i)
    )


def _assign_owners(tokens: list[Token]) -> None:
    """A heading right above another owns it; the heading that opens a run of lines owns its others."""
    for prev, tok in zip(tokens, tokens[1:], strict=False):
        if prev.kind == tok.kind == "heading" and prev.group == tok.group and tok.owner is None:
            tok.owner = prev
    groups: dict[int | None, list[Token]] = {}
    for tok in tokens:
        groups.setdefault(tok.group, []).append(tok)
    for toks in groups.values():
        heads = [t for t in toks if t.kind == "heading"]
        if len(heads) < 2 or toks[0].kind != "heading" or _entry_list(toks):
            continue
        for h in heads[1:]:
            if h.owner is None:
                h.owner = toks[0]


def _entry_list(toks: list[Token]) -> bool:
    """Headings each followed by one or two paragraphs only: siblings, like role titles."""
    bodies: list[list[Token]] = []
    for t in toks:
        if t.kind == "heading":
            bodies.append([])
        elif bodies:
            bodies[-1].append(t)
    return len(bodies) >= ENTRY_MIN_HEADINGS and all(
        0 < len(b) <= ENTRY_MAX_PARAGRAPHS and all(t.kind == "para" for t in b) for b in bodies
    )


def _resume_after_captions(tokens: list[Token]) -> list[Token]:
    """A caption titles only its table: the text after it returns to the caption's section."""
    out: list[Token] = []
    for k, tok in enumerate(tokens):
        out.append(tok)
        if tok.kind != "table" or k == 0 or k + 1 >= len(tokens):
            continue
        cap, nxt = tokens[k - 1], tokens[k + 1]
        if cap.kind != "heading" or not cap.caption or nxt.kind in {"heading", "item"}:
            continue
        out.append(Token("resume", nxt.start, nxt.start, owner=_section_of(tokens, k - 1), group=nxt.group))
    return out


def _section_of(tokens: list[Token], k: int) -> Token | None:
    """The nearest heading above caption ``k`` with text of its own, else the top of its chain."""
    index = {id(t): j for j, t in enumerate(tokens)}
    h, top = tokens[k].owner, None
    while h is not None:
        j = index[id(h)]
        if j + 1 < len(tokens) and tokens[j + 1].kind != "heading":
            return h
        h, top = h.owner, h
    if top is not None:
        return top
    for t in reversed(tokens[:k]):
        if t.kind == "heading" and not t.caption:
            return t
    return None
