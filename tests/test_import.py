"""coach import: saved web pages and PDFs become clean Markdown guides; bad input writes nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from coach.cli import main
from coach.errors import CoachError
from coach.evaluate import _norm
from coach.importer import import_file
from coach.parse import parse_guide
from tests.conftest import FIXTURES, ROOT
from tests.pdfgen import guide_blocks, image_only_pdf, layout, make_pdf

PAGES = FIXTURES / "pages"
# Each page was saved from a site that wraps one of our labelled guides in its chrome.
ROUND_TRIPS = {
    "electricians.html": "electrician.jsonl",
    "ux-designer.html": "ux-designer.jsonl",
    "pharmacy-technician.html": "pharmacy-technician.jsonl",
}
SITE_CHROME = [
    "We use cookies",
    "Accept all",
    "Log in",
    "Sign up",
    "Subscribe",
    "Enter your email",
    "Related articles",
    "Share this article",
    "Privacy policy",
    "All rights reserved",
    "Start free trial",
    "£9.99",
    "Occupation Finder",
    "Skip to Content",
    "official website of the United States government",
    "Email this page",
]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    d = tmp_path / "corpus"
    d.mkdir()
    return d


def imported(corpus: Path, page: str) -> str:
    result = import_file(PAGES / page, corpus)
    return result.path.read_text(encoding="utf-8")


@pytest.mark.parametrize("page", sorted(ROUND_TRIPS))
def test_saved_page_keeps_the_guide_and_drops_the_site(corpus, page):
    text = imported(corpus, page)
    assert text.startswith("# ")
    for chrome in SITE_CHROME:
        assert chrome.lower() not in text.lower(), chrome
    guide = parse_guide(text, page)
    assert len(guide.sections) >= 10


@pytest.mark.parametrize("page", sorted(ROUND_TRIPS))
def test_every_labelled_answer_survives_the_import(corpus, page):
    """What the question set expects to be quoted is still a quotable unit after import."""
    guide = parse_guide(imported(corpus, page), page)
    units = [_norm(u.plain or u.text) for s in guide.sections for u in s.units]
    lines = (ROOT / "eval" / "guides" / ROUND_TRIPS[page]).read_text(encoding="utf-8").splitlines()
    missing = [
        e
        for line in lines
        if line.strip()
        for turn in json.loads(line)["turns"]
        for e in turn.get("expect_any", [])
        if not any(_norm(e) in u for u in units)
    ]
    assert not missing


def test_headings_keep_their_levels(corpus):
    guide = parse_guide(imported(corpus, "electricians.html"), "electricians.md")
    assert guide.title == "Electricians"
    paths = [s.heading_path[1:] for s in guide.sections]
    assert ["How to Become an Electrician", "Licenses, Certifications, and Registrations"] in paths
    assert ["Work Environment", "Injuries and Illnesses"] in paths


def test_a_table_with_a_header_row_keeps_its_column_names(corpus):
    guide = parse_guide(imported(corpus, "pharmacy-technician.html"), "pharmacy-technician.md")
    rows = [u for s in guide.sections for u in s.units if u.kind == "table_row"]
    assert any(
        u.columns == ["Work setting", "Median annual wage"] and u.cells[0] == "Hospitals; state, local, and private"
        for u in rows
    )
    guide = parse_guide(imported(corpus, "electricians.html"), "electricians.md")
    rows = [u for s in guide.sections for u in s.units if u.kind == "table_row"]
    assert any(u.columns[:2] == ["Occupational Title", "Employment, 2023"] and u.cells[1] == "818,700" for u in rows)


def test_a_table_without_a_header_row_stays_rows(corpus):
    """The Quick Facts rows are labels with values: no data row becomes column names."""
    text = imported(corpus, "electricians.html")
    assert "- 2023 Median Pay: $61,590 per year $29.61 per hour" in text
    guide = parse_guide(text, "electricians.md")
    assert not any(u.columns and "2023 Median Pay" in u.columns for s in guide.sections for u in s.units)
    facts = {f.label: f.value for f in guide.facts}
    assert facts["Number of Jobs, 2023"] == "818,700"


def test_lists_survive(corpus):
    guide = parse_guide(imported(corpus, "electricians.html"), "electricians.md")
    duties = next(s for s in guide.sections if s.heading_path[-1] == "Duties")
    bullets = [u.text for u in duties.units if u.kind == "bullet"]
    assert len(bullets) >= 6 and bullets[0].startswith("Read blueprints")


def test_pdf_headings_lists_and_text(corpus, tmp_path):
    source = (ROOT / "eval" / "guides" / "pharmacy-technician.md").read_text(encoding="utf-8")
    source = re.sub(r"(?m)^(.+)\n-{3,}$", r"## \1", source).replace("**", "")
    pdf = tmp_path / "pharmacy guide.pdf"
    pdf.write_bytes(make_pdf(layout(guide_blocks(source))))
    result = import_file(pdf, corpus)
    assert result.path.name == "pharmacy-guide.md"
    text = result.path.read_text(encoding="utf-8")
    assert text.startswith("# Pharmacy Technician Career Guide\n")
    assert "\n## At a Glance\n" in text and "\n### Daily duties\n" in text
    guide = parse_guide(text, result.path.name)
    glance = next(s for s in guide.sections if s.heading_path[-1] == "At a Glance")
    assert [u.kind for u in glance.units] == ["bullet"] * 5
    # A list item wrapped over two lines is one item, its words rejoined.
    assert any(u.text.endswith("on-the-job training or a postsecondary certificate") for u in glance.units)


def test_running_headers_and_page_numbers_are_dropped(corpus, tmp_path):
    blocks = [("h1", "Crane Operator Guide")] + [
        ("p", f"Paragraph {k} about lifting loads safely on site. " * 6) for k in range(40)
    ]
    pages = layout(blocks)
    for n, page in enumerate(pages, 1):
        page.append((60, 30, 8, False, "Crane Operator Guide - Careers Office"))
        page.append((300, 30, 8, False, str(n)))
    pdf = tmp_path / "crane.pdf"
    pdf.write_bytes(make_pdf(pages))
    text = import_file(pdf, corpus).path.read_text(encoding="utf-8")
    assert len(pages) >= 3
    assert "Careers Office" not in text
    assert not re.search(r"(?m)^\d+$", text)


def test_existing_guide_is_not_replaced_without_force(corpus):
    target = import_file(PAGES / "ux-designer.html", corpus).path
    imported = target.read_text(encoding="utf-8")
    target.write_text("Edited by staff.\n", encoding="utf-8")
    with pytest.raises(CoachError, match="already exists"):
        import_file(PAGES / "ux-designer.html", corpus)
    assert target.read_text(encoding="utf-8") == "Edited by staff.\n"
    assert import_file(PAGES / "ux-designer.html", corpus, force=True).path == target
    assert target.read_text(encoding="utf-8") == imported


EMPTY_PAGE = """<!DOCTYPE html><html><head><title>Careers | Site</title></head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/jobs">Jobs</a></li><li><a href="/login">Log in</a></li></ul></nav>
<div class="cookie">We use cookies. <button>Accept</button></div>
<footer><a href="/privacy">Privacy</a> &copy; 2025 Site</footer></body></html>"""


def bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    (tmp_path / "in").mkdir()
    files = {
        "missing": (tmp_path / "in" / "nothing-here.html", "does not exist"),
        "docx": (tmp_path / "in" / "guide.docx", "reads saved web pages"),
        "no main text": (tmp_path / "in" / "empty.html", "No main text was found"),
        "scanned": (tmp_path / "in" / "scan.pdf", "no text layer"),
        "password": (tmp_path / "in" / "locked.pdf", "password-protected"),
        "not a pdf": (tmp_path / "in" / "fake.pdf", "is not a PDF"),
        "too large": (tmp_path / "in" / "huge.html", "more than the 20 MB"),
    }
    files["docx"][0].write_bytes(b"PK\x03\x04 not a web page")
    files["no main text"][0].write_text(EMPTY_PAGE, encoding="utf-8")
    files["scanned"][0].write_bytes(image_only_pdf())
    files["password"][0].write_bytes(make_pdf(layout([("p", "A secret guide. " * 20)]), user_password="s3cret"))
    files["not a pdf"][0].write_text("<html><body>hello</body></html>", encoding="utf-8")
    with open(files["too large"][0], "wb") as f:
        f.truncate(50 * 1024 * 1024)  # a 50 MB file (sparse on disk)
    return files


def test_bad_input_is_one_sentence_and_writes_nothing(tmp_path, corpus, capsys):
    for label, (path, message) in bad_inputs(tmp_path).items():
        code = main(["import", str(path), "--corpus", str(corpus)])
        err = capsys.readouterr().err
        assert code == 1, label
        assert err.startswith("error: ") and message in err, (label, err)
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, label
        assert list(corpus.iterdir()) == [], label


def test_cli_import_reports_what_it_wrote(corpus, capsys):
    assert main(["import", str(PAGES / "pharmacy-technician.html"), "--corpus", str(corpus)]) == 0
    out = capsys.readouterr().out
    assert "pharmacy-technician.md" in out and "'Pharmacy Technician Career Guide'" in out
    assert (corpus / "pharmacy-technician.md").is_file()
