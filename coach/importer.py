"""``coach import``: a saved web page or a PDF in, a clean Markdown guide in the corpus out.

Staff bring what publishers already have. A page saved from a browser is read
with trafilatura (main text only: navigation, cookie banners, adverts and
footers left behind) and its structure is written as Markdown: headings with
their levels, lists, and tables with their real column names (a table
without a header row becomes a list of its rows, so that no data row is ever
taken for column names). A PDF is read with pdfminer.six, whose character
sizes tell headings from body text; bullets become list items, running
page headers and page numbers are dropped.

Whatever goes wrong (missing file, unsupported type, no main text, a scanned
PDF without a text layer, a password, a file too large), the user gets one
sentence and what to do, and nothing is written. The written guide is parsed
before it is kept, so an import never leaves a guide the coach cannot read.
See the README for how the two libraries were chosen.
"""

from __future__ import annotations

import os
import re
import statistics
import tempfile
from collections import Counter
from pathlib import Path
from typing import NamedTuple

from pydantic import BaseModel

from coach.errors import CoachError

MAX_IMPORT_BYTES = 20 * 1024 * 1024
"""The corpus's own limit for one guide (coach/corpus.py): a larger file could not be indexed anyway."""
HTML_SUFFIXES = {".html", ".htm", ".xhtml", ".shtml"}
PDF_SUFFIXES = {".pdf"}
MIN_WORDS = 30
"""Less main text than this is a failed extraction, not a guide."""
BULLET_RE = re.compile(r"^\s*(?:[•▪◦●○■□◆►–—*-]|\(?\d{1,2}[.)])\s+")
PAGE_NUMBER_RE = re.compile(r"^\s*(?:page\s+)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?\s*$", re.I)


class ImportResult(BaseModel):
    """What ``coach import`` wrote."""

    path: Path
    title: str
    kind: str
    """"html" or "pdf"."""
    sections: int
    table_rows: int
    words: int
    clutter: int
    """Units the parser will keep out of answers as site clutter."""


# -- entry point --------------------------------------------------------------------


def import_file(source: Path, corpus_dir: Path, name: str | None = None, force: bool = False) -> ImportResult:
    """Convert ``source`` (.html/.htm or .pdf) to Markdown and write it into ``corpus_dir``.

    ``name`` is the file name to write (default: the source's name with
    ``.md``); an existing guide is replaced only with ``force``.
    """
    from coach.parse import parse_guide

    raw = _read(source)
    kind = _kind(source, raw)
    markdown, title = html_to_markdown(raw, str(source)) if kind == "html" else pdf_to_markdown(raw, str(source))
    target_name = _target_name(name or source.name)
    target = corpus_dir / target_name
    if not corpus_dir.is_dir():
        raise CoachError(f"The corpus folder {corpus_dir} does not exist.", "Create it first, or pass --corpus DIR.")
    if target.exists() and not force:
        raise CoachError(
            f"{target} already exists in the corpus.",
            "Pass --force to replace it, or --name OTHER.md to import under another name.",
        )
    guide = parse_guide(markdown, target_name)
    words = sum(len(u.text.split()) for s in guide.sections for u in s.units)
    if words < MIN_WORDS:
        raise _no_text(source, kind)
    _write_atomic(target, markdown)
    return ImportResult(
        path=target,
        title=guide.title or title,
        kind=kind,
        sections=len(guide.sections),
        table_rows=sum(1 for s in guide.sections for u in s.units if u.kind == "table_row"),
        words=words,
        clutter=sum(e.units for e in guide.excluded),
    )


def _read(source: Path) -> bytes:
    if not source.exists():
        raise CoachError(f"The file {source} does not exist.", "Check the path of the saved page or PDF.")
    if not source.is_file():
        raise CoachError(f"{source} is not a file.", "Pass one saved web page (.html) or one PDF.")
    size = source.stat().st_size
    if size > MAX_IMPORT_BYTES:
        raise CoachError(
            f"{source} is {size / 1024 / 1024:.0f} MB, more than the {MAX_IMPORT_BYTES // (1024 * 1024)} MB a guide may be.",
            "Save only the guide's page (not a whole site or a scanned book), or split the PDF.",
        )
    raw = source.read_bytes()
    if not raw.strip():
        raise CoachError(f"{source} is empty.", "Save the page or PDF again and import that file.")
    return raw


def _kind(source: Path, raw: bytes) -> str:
    """``html`` or ``pdf`` from the content first (a PDF saved as .html is still a PDF), then the suffix."""
    suffix = source.suffix.lower()
    if raw.lstrip()[:5] == b"%PDF-":
        return "pdf"
    if suffix in PDF_SUFFIXES:
        raise CoachError(f"{source} is not a PDF (it does not start like one).", "Save or export the PDF again.")
    head = raw[:4096].lower()
    if suffix in HTML_SUFFIXES or b"<html" in head or b"<!doctype html" in head:
        if b"\x00" in raw[:4096]:
            raise CoachError(f"{source} is not a readable web page.", "Save the page again as 'Web Page, HTML only'.")
        return "html"
    shown = suffix or "a file without an extension"
    hint = "Put .txt and .md guides straight into the corpus folder." if suffix in {".txt", ".md", ".markdown"} else ""
    raise CoachError(
        f"coach import reads saved web pages (.html, .htm) and PDFs (.pdf), not {shown}.",
        hint or "Save the guide as a web page or a PDF, or copy its text into a .txt file in the corpus.",
    )


def _no_text(source: Path, kind: str) -> CoachError:
    if kind == "pdf":
        return CoachError(
            f"{source} has no text layer to read (it looks like a scanned document).",
            "Run it through OCR first (for example: ocrmypdf in.pdf out.pdf) and import the result.",
        )
    return CoachError(
        f"No main text was found in {source}.",
        "Open the page in a browser, check the guide's text is visible, and save it again "
        "('Save Page As', web page); or copy the text into a .txt file in the corpus.",
    )


def _target_name(name: str) -> str:
    """A safe file name ending in .md: no folders, no leading dot."""
    stem = Path(name).name
    stem = re.sub(r"\.(?:html?|xhtml|shtml|pdf|md|markdown|txt)$", "", stem, flags=re.I)
    stem = re.sub(r"[^\w.-]+", "-", stem).strip("-.") or "imported-guide"
    return f"{stem}.md"


def _write_atomic(target: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".import-", suffix=".md", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- HTML --------------------------------------------------------------------------------


def html_to_markdown(raw: bytes, name: str = "page.html") -> tuple[str, str]:
    """The main text of a saved web page as Markdown, and its title.

    Raises :class:`CoachError` when the page has no main text.
    """
    import trafilatura
    from lxml import etree

    tree = trafilatura.load_html(raw)
    if tree is None:
        raise CoachError(f"{name} is not a readable web page.", "Save the page again as 'Web Page, HTML only'.")
    _mark_table_headers(tree)
    meta = trafilatura.extract_metadata(tree)
    xml = trafilatura.extract(
        tree,
        output_format="xml",
        include_tables=True,
        include_comments=False,
        include_links=False,
        include_images=False,
        include_formatting=False,
        deduplicate=False,
    )
    if not xml:
        raise _no_text(Path(name), "html")
    doc = etree.fromstring(xml.encode("utf-8"))
    body = doc.find("main")
    if body is None:
        raise _no_text(Path(name), "html")
    blocks = _blocks(body)
    title = (meta.title if meta is not None and meta.title else "").strip()
    if blocks and blocks[0].startswith("# "):
        title = blocks[0][2:].strip()
    elif title:
        blocks.insert(0, f"# {_escape_line(title)}")
    return "\n\n".join(b for b in blocks if b.strip()) + "\n", title


def _mark_table_headers(tree) -> None:  # noqa: ANN001
    """Keep header cells only where a table really has a header row.

    A header row is a ``<thead>``, or a first row made only of ``<th>``. Every
    other ``<th>`` (a row label in a "Quick Facts" table) becomes ``<td>``, so
    a label is never taken for a column name.
    """
    for table in tree.iter("table"):
        rows = list(table.iter("tr"))
        if not rows:
            continue
        first = rows[0]
        cells = [c for c in first if isinstance(c.tag, str) and c.tag in {"th", "td"}]
        in_thead = first.getparent() is not None and first.getparent().tag == "thead"
        header = in_thead or (len(cells) > 1 and all(c.tag == "th" for c in cells))
        for k, row in enumerate(rows):
            for cell in row:
                if not isinstance(cell.tag, str):
                    continue
                if k == 0 and header:
                    cell.tag = "th"
                elif cell.tag == "th":
                    cell.tag = "td"


def _text(el) -> str:  # noqa: ANN001
    return " ".join("".join(el.itertext()).split())


def _escape_line(text: str) -> str:
    """Text that Markdown will not read as a heading, list or rule by accident."""
    if re.match(r"^(?:#{1,6}\s|[-+*]\s|\d{1,9}[.)]\s|>|={3,}|-{3,})", text):
        text = "\\" + text
    return text


def _blocks(body) -> list[str]:  # noqa: ANN001
    out: list[str] = []
    for el in body:
        if not isinstance(el.tag, str):
            continue
        if el.tag == "head":
            level = int(re.sub(r"\D", "", el.get("rend", "h2")) or 2)
            text = _text(el)
            if text:
                out.append(f"{'#' * max(1, min(level, 6))} {text.replace('|', '/')}")
        elif el.tag == "list":
            out.append("\n".join(_list_lines(el, 0)))
        elif el.tag == "table":
            out.append(_table(el))
        else:  # p, quote, code and anything else: one paragraph
            text = _text(el)
            if text:
                out.append(_escape_line(text))
    return [b for b in out if b]


def _list_lines(lst, depth: int) -> list[str]:  # noqa: ANN001
    lines = []
    ordered = lst.get("rend") == "ol"
    n = 0
    for item in lst:
        if item.tag != "item":
            continue
        n += 1
        nested = [c for c in item if c.tag == "list"]
        own = " ".join(
            ((item.text or "") + "".join((_text(c) if c.tag != "list" else "") + (c.tail or "") for c in item)).split()
        )
        marker = f"{n}." if ordered else "-"
        if own:
            lines.append(f"{'  ' * depth}{marker} {own.replace('|', '/')}")
        for sub in nested:
            lines.extend(_list_lines(sub, depth + 1))
    return lines


def _table(table) -> str:  # noqa: ANN001
    rows = []
    header = None
    for k, row in enumerate(r for r in table if r.tag == "row"):
        cells = [_text(c).replace("|", "\\|") for c in row if c.tag == "cell"]
        if k == 0 and any(c.get("role") == "head" for c in row if c.tag == "cell"):
            header = cells
        elif cells and any(cells):
            rows.append(cells)
    if header:
        width = max([len(header), *(len(r) for r in rows)])
        header = header + [""] * (width - len(header))
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * width]
        lines += ["| " + " | ".join(r + [""] * (width - len(r))) + " |" for r in rows]
        return "\n".join(lines)
    # No header row: each row stays a row, as a list item ("Label: value" for two cells).
    lines = []
    for r in rows:
        r = [c for c in r if c]
        if len(r) == 2:
            lines.append(f"- {r[0]}: {r[1]}")
        elif r:
            lines.append("- " + "; ".join(r))
    return "\n".join(lines)


# -- PDF --------------------------------------------------------------------------------


def pdf_to_markdown(raw: bytes, name: str = "guide.pdf") -> tuple[str, str]:
    """The text of a PDF as Markdown (headings from font sizes, lists from bullets), and its title."""
    import io

    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LAParams, LTChar, LTTextContainer, LTTextLine
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.pdfparser import PDFSyntaxError
    from pdfminer.psparser import PSException

    lines: list[_Line] = []
    try:
        for pageno, page in enumerate(extract_pages(io.BytesIO(raw), laparams=LAParams())):
            for box in page:
                if not isinstance(box, LTTextContainer):
                    continue
                boxno = id(box)
                for line in box:
                    if not isinstance(line, LTTextLine):
                        continue
                    text = " ".join(line.get_text().split())
                    chars = [c for c in line if isinstance(c, LTChar) and c.get_text().strip()]
                    if not text or not chars:
                        continue
                    size = statistics.median(round(c.size, 1) for c in chars)
                    bold = sum("bold" in c.fontname.lower() for c in chars) > len(chars) / 2
                    lines.append(_Line(pageno, boxno, size, bold, text, line.x0))
    except (PDFPasswordIncorrect, PDFEncryptionError) as exc:
        raise CoachError(
            f"{name} is password-protected.", "Open it with its password, save an unprotected copy, and import that."
        ) from exc
    except (PDFSyntaxError, PSException, ValueError, KeyError, TypeError) as exc:
        raise CoachError(f"{name} is not a readable PDF.", "Export or save the PDF again and import that.") from exc
    if sum(len(ln.text.split()) for ln in lines) < MIN_WORDS:
        raise _no_text(Path(name), "pdf")
    return _pdf_markdown(lines)


class _Line(NamedTuple):
    page: int
    box: int
    size: float
    bold: bool
    text: str
    x0: float


def _pdf_markdown(lines: list[_Line]) -> tuple[str, str]:
    pages = max(ln.page for ln in lines) + 1
    # Running headers and footers: the same line on most pages, and bare page numbers.
    seen = Counter(t for _, t in {(ln.page, ln.text) for ln in lines})
    running = {t for t, c in seen.items() if pages >= 3 and c >= max(3, pages * 0.6)}
    lines = [ln for ln in lines if ln.text not in running and not PAGE_NUMBER_RE.match(ln.text)]
    if not lines:
        return "", ""
    weights: Counter[float] = Counter()
    for ln in lines:
        weights[ln.size] += len(ln.text)
    body = weights.most_common(1)[0][0]
    sizes = sorted({ln.size for ln in lines if ln.size >= body * 1.15 and len(ln.text.split()) <= 14}, reverse=True)
    first = 1 if sizes and sum(1 for ln in lines if ln.size == sizes[0]) <= 2 else 2  # one title line: it is the h1
    level = {s: min(k + first, 5) for k, s in enumerate(sizes)}
    left = Counter(round(ln.x0) for ln in lines if ln.size == body).most_common(1)[0][0]

    blocks: list[str] = []
    para: list[str] = []
    item: list[str] = []
    nested = False
    title = ""

    def flush() -> None:
        nonlocal para, item
        if item:
            blocks.append(("  " if nested else "") + "- " + _join(item))
            item = []
        if para:
            blocks.append(_escape_line(_join(para)))
            para = []

    prev: _Line | None = None
    for ln in lines:
        short = len(ln.text.split()) <= 12 and not ln.text.rstrip().endswith((".", ",", ";"))
        heading = ln.size in level or (ln.bold and ln.size >= body and short and not BULLET_RE.match(ln.text))
        if heading:
            flush()
            lvl = level.get(ln.size, max(level.values(), default=first) + 1)
            if prev is not None and prev.box == ln.box and blocks and blocks[-1].startswith("#"):
                blocks[-1] += " " + ln.text  # a heading wrapped over two lines
            else:
                blocks.append(f"{'#' * min(lvl, 6)} {ln.text}")
                if lvl == 1 and not title:
                    title = ln.text
            prev = ln
            continue
        m = BULLET_RE.match(ln.text)
        if m:
            flush()
            nested = ln.x0 > left + 24
            item = [ln.text[m.end() :]]
        elif item and prev is not None and prev.page == ln.page and ln.x0 > left + 4:
            item.append(ln.text)  # a wrapped list item
        else:
            if item or (prev is not None and prev.box != ln.box):
                flush()
            para.append(ln.text)
        prev = ln
    flush()
    return _group_lists(blocks), title


def _join(parts: list[str]) -> str:
    """Lines of one paragraph joined; a word hyphenated at a line end is mended."""
    out = ""
    for p in parts:
        if out.endswith("-") and p[:1].islower() and not out.endswith(" -"):
            out = out[:-1] + p
        else:
            out = f"{out} {p}".strip()
    return out


def _group_lists(blocks: list[str]) -> str:
    """Consecutive list items form one list (no blank line between them)."""
    out: list[str] = []
    for b in blocks:
        if out and b.lstrip().startswith("- ") and out[-1].split("\n")[-1].lstrip().startswith("- "):
            out[-1] += "\n" + b
        else:
            out.append(b)
    return "\n\n".join(out) + "\n"
