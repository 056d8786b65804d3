"""Read a Markdown guide into block tokens with markdown-it-py.

The parser's token stream gives headings (ATX and setext, with their real
levels), paragraphs, lists with their nesting, and pipe tables, each with the
source lines it came from (``token.map``). Offsets are found by locating each
inline line inside its source line, so every span is an exact slice of the
source; :func:`plain_inline` gives the same slice without markup (``**``,
links, ``\\xa0``) for matching and display.
"""

from __future__ import annotations

import re
from functools import cache

from markdown_it import MarkdownIt
from markdown_it.token import Token as MdToken

from coach.blocks import Token, heading_name

# Longest paragraph, in characters, that may act as a bold pseudo-heading.
PSEUDO_HEADING_MAX_CHARS = 100


@cache
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table")


def plain_inline(source: str) -> str:
    """``source`` (inline Markdown) as plain text on one line: emphasis, links and code marks removed."""
    tokens = _parser().parseInline(source)
    children = (tokens[0].children or []) if tokens else []
    parts: list[str] = []
    for child in children:
        if child.type in {"text", "code_inline"}:
            parts.append(child.content)
        elif child.type in {"softbreak", "hardbreak"}:
            parts.append(" ")
        elif child.type == "image":
            parts.append("".join(c.content for c in child.children or []))
    return " ".join("".join(parts).split())


class _Source:
    """The source text split into lines (on ``\\n`` only, as markdown-it does)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line(self, row: int) -> tuple[int, str]:
        start = self.starts[row]
        end = self.starts[row + 1] - 1 if row + 1 < len(self.starts) else len(self.text)
        return start, self.text[start:end].rstrip("\r")

    def locate(self, row: int, content: str, last: bool) -> int:
        """Offset where ``content`` (one line of an inline token) starts, or ends if ``last``."""
        start, line = self.line(row)
        content = content.rstrip()
        body = line.rstrip()
        # The content is what is left of the line after its block markers ("* ", "> ", "## ").
        col = len(body) - len(content) if body.endswith(content) else line.find(content)
        if col < 0:
            col = len(line) - len(line.lstrip())
            return start + (len(body) if last else col)
        return start + col + (len(content) if last else 0)

    def inline_span(self, inline: MdToken) -> tuple[int, int]:
        lines = inline.content.split("\n")
        row = inline.map[0] if inline.map else 0
        return self.locate(row, lines[0], False), self.locate(row + len(lines) - 1, lines[-1], True)

    def line_span(self, row: int) -> tuple[int, int]:
        start, line = self.line(row)
        lead = len(line) - len(line.lstrip())
        return start + lead, start + len(line.rstrip())


def _close(tokens: list[MdToken], i: int) -> int:
    """Index of the token that closes the one opened at ``i``."""
    depth = 0
    for j in range(i, len(tokens)):
        depth += tokens[j].nesting
        if depth == 0:
            return j
    return len(tokens) - 1


def _strong_only(inline: MdToken) -> bool:
    """A paragraph that is nothing but bold text ("**Technical Skills:**") is a heading."""
    kids = [c for c in inline.children or [] if not (c.type == "text" and not c.content.strip())]
    return (
        len(kids) == 3
        and kids[0].type == "strong_open"
        and kids[1].type == "text"
        and kids[2].type == "strong_close"
        and "\n" not in inline.content
        and len(inline.content) <= PSEUDO_HEADING_MAX_CHARS
    )


def _run_in_heading(inline: MdToken) -> bool:
    """Is a paragraph's first line nothing but bold text, with more lines after it ("**What is
    the MERN stack?**" then its answer)?"""
    kids = inline.children or []
    brk = next((k for k, c in enumerate(kids) if c.type in ("softbreak", "hardbreak")), None)
    if brk is None:
        return False
    first = [c for c in kids[:brk] if not (c.type == "text" and not c.content.strip())]
    cut = inline.content.find("\n")
    return (
        [c.type for c in first] == ["strong_open", "text", "strong_close"]
        and 0 < cut <= PSEUDO_HEADING_MAX_CHARS
        and bool(inline.content[cut:].strip())
    )


def _next_heading_level(tokens: list[MdToken], i: int) -> int | None:
    """Level of the heading that comes right after the block closing before ``i``, if any."""
    if i < len(tokens) and tokens[i].type == "heading_open":
        return int(tokens[i].tag[1:])
    return None


def tokenize(text: str) -> list[Token]:
    """Block tokens of a Markdown document, in order."""
    src = _Source(text)
    toks = _parser().parse(text)
    out: list[Token] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        if t.type == "heading_open":
            s, e = src.inline_span(toks[i + 1])
            name = heading_name(plain_inline(toks[i + 1].content))
            out.append(Token("heading", s, e, name, level=int(t.tag[1:]), markup=True))
            i += 3
        elif t.type in {"bullet_list_open", "ordered_list_open"}:
            j = _close(toks, i)
            spans = [src.inline_span(x) for x in toks[i:j] if x.type == "inline"]
            if spans:
                kind = "bullets" if t.type == "bullet_list_open" else "md_ordered"
                start = int(t.attrGet("start") or 1) if kind == "md_ordered" else 0
                out.append(Token(kind, spans[0][0], spans[-1][1], spans=spans, markup=True, number=start))
            i = j + 1
        elif t.type == "table_open":
            j = _close(toks, i)
            out.append(_table(toks[i:j], src))
            i = j + 1
        elif t.type == "paragraph_open":
            inline = toks[i + 1]
            s, e = src.inline_span(inline)
            if _run_in_heading(inline):
                # "**Can I learn it in 3 months?**" with its answer on the next line: one
                # paragraph to CommonMark, a question and its answer to a reader.
                lines = inline.content.split("\n")
                row = inline.map[0] if inline.map else 0
                head_end = src.locate(row, lines[0], True)
                body = src.locate(row + 1, lines[1], False)
                name = heading_name(plain_inline(lines[0]))
                out.append(Token("heading", s, head_end, name, level=6, markup=True))
                out.append(Token("para", body, e, text[body:e], markup=True))
            elif _strong_only(inline):
                # A bold line right above a heading names the group that heading opens.
                nxt = _next_heading_level(toks, i + 3)
                level = max(1, nxt - 1) if nxt is not None else 6
                out.append(Token("heading", s, e, heading_name(plain_inline(inline.content)), level=level, markup=True))
            elif e > s:
                out.append(Token("para", s, e, text[s:e], markup=True))
            i += 3
        else:
            i += 1  # blockquote and list wrappers are walked into; code, html and rules are skipped
    return out


def _table(toks: list[MdToken], src: _Source) -> Token:
    rows: list[tuple[tuple[int, int], list[str], bool]] = []
    in_head = False
    for k, t in enumerate(toks):
        if t.type == "thead_open":
            in_head = True
        elif t.type == "thead_close":
            in_head = False
        elif t.type == "tr_open" and t.map:
            j = k + _close(toks[k:], 0)
            cells = [plain_inline(x.content) for x in toks[k:j] if x.type == "inline"]
            rows.append((src.line_span(t.map[0]), cells, in_head))
    head = [r for r in rows if r[2]]
    body = [r for r in rows if not r[2]]
    columns = head[0][1] if head else None
    spans = [r[0] for r in head[:1] + body]
    return Token(
        "table",
        spans[0][0],
        spans[-1][1],
        columns=columns,
        cells=[r[1] for r in body],
        spans=spans,
        header=bool(head),
        markup=True,
    )
