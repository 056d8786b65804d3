"""Site clutter: recognise what a web page wraps around its guide, and keep it unquotable.

A guide saved from a publisher's site carries navigation, subscription
upsells, sign-up prompts, "view examples" link cards, related-article lists
and footers. None of it answers a job seeker's question, yet it reads like
text. This module decides, after parsing and before chunking, which units are
clutter; :func:`coach.parse.parse_guide` drops them from the guide's sections
(so they are never embedded, retrieved, quoted or offered as a suggestion) and
records them in ``Guide.excluded`` for the staff page.

The signals are general, never one site's words:

* **marketing vocabulary**: sign-up, subscription, pricing-per-month,
  newsletter, cookie and copyright language;
* **media pointers**: a line that points at a video the flattened text does
  not hold ("Watch the video below to see ...");
* **call-to-action lines**: a short line led by an imperative ("View
  examples", "Get started", "Assess your readiness") with no sentence stop;
* **link lists**: a list under a heading that is itself a call to action or a
  "related / popular / more" heading, and a blurb followed by a button
  (a "card");
* **repetition**: the same line three times in one guide (a template), or in
  more than one guide of the corpus (a publisher's boilerplate);
* **position**: a run of such sections at the end of the page is a footer,
  down to the last flagged lines of the final real section;
* **table footnotes**: a "Source:" or "Note:" line right under a table's rows
  credits or glosses its figures and answers nothing (under a paragraph such
  a line is text and stays).

A section is clutter only when most of what it holds is flagged, so one
sentence that mentions a newsletter in a digital-marketing guide stays.
Staff can also exclude sections by name for one guide in ``coach.toml``
in the corpus folder (see :func:`load_settings`).
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from coach.corpus import SETTINGS_FILE
from coach.errors import CoachError
from coach.records import ExcludedSection, Section, Unit
from coach.sentences import split_sentences

MAX_SETTINGS_BYTES = 256 * 1024

# Language of selling and site furniture. Each pattern is about the web, not a job.
MARKETING_RE = re.compile(
    r"""
    \bsign[ -]?(?:up|in)\b | \blog[ -]?in\b | \bregister\s+(?:now|today|for\s+free)\b | \bcreate\s+(?:a|your)\s+(?:free\s+)?account\b
    | \bsubscri(?:be|ption)\b | \bnewsletter\b | \binbox\b | \benter\s+your\s+e-?mail\b
    | \bno\s+credit\s+card\b | \bfree\s+trial\b | \b(?:for|it's|is)\s+free\b | \b\d+\s+free\b | \bstart(?:ed)?\s+(?:for\s+)?free\b
    | \bupgrade\s+to\b | \bpremium\s+(?:features?|plans?|members(?:hip)?|accounts?|access|tools?)\b | \bunlock\b | \b(?:easy|cancel)\s+(?:to\s+)?cancel\b | \bcancel\s+any\s*time\b
    | [$€£]\s?\d+(?:\.\d\d)?\s*/\s*(?:mo|month|yr|year|week)\b
    | \bcookies?\b | \bprivacy\s+policy\b | \bterms\s+(?:of|&)\s+(?:use|service)\b | \ball\s+rights\s+reserved\b | ©
    | \bshare\s+this\b | \bthis\s+(?:article|post|page)\b | \bfollow\s+us\b | \bclick\s+here\b | \bdownload\s+(?:our|the)\s+app\b
    | \bview\s+(?:all\s+)?examples?\b | \bexplore\s+(?:similar|more|our|career\s+guide)\b | \bsee\s+(?:all|more)\b
    | \btrusted\s+by\b | \bjoin\s+(?:over|more\s+than|\d)
    | \bour\s+(?:[\w-]+\s+){0,2}(?:coach|tools?|app|platform|resources|courses?|experts|plans?|team|community|members)\b
    | \bdream\s+job\b | \bpersonali[sz]ed\s+(?:job|recommendations|plans?)\b | \bjob\s+alerts?\b
    """,
    re.I | re.X,
)
# A line that points at a video on the page: the flattened text never holds it, so the
# whole line says nothing a job seeker can read ("Watch the video below to see ...").
MEDIA_POINTER_RE = re.compile(
    r"\bwatch\s+(?:the|this|our|a)\s+(?:short\s+)?videos?\b|\bvideos?\s+(?:below|above)\b", re.I
)
# A heading that announces a list of links rather than content.
LINK_HEADING_RE = re.compile(
    r"^(?:related|similar|popular|recommended|trending|more|latest|you\s+may\s+also|further|explore|see\s+also)\b"
    r"(?:\s+\w+){0,3}$",
    re.I,
)
# Related occupations are content in a career guide (a handbook's "Similar
# Occupations"), even when a site lays them out as link cards; related
# articles are not.
OCCUPATIONS_HEADING_RE = re.compile(
    r"^(?:related|similar|other|alternative)\s+(?:careers?|roles?|jobs?|occupations?|professions?|positions?)\b", re.I
)
# Verbs that lead a button or link label.
CTA_VERBS = {
    "view", "see", "explore", "assess", "get", "sign", "join", "subscribe", "start", "try", "download",
    "upgrade", "learn", "read", "share", "follow", "book", "enter", "register", "create", "unlock", "discover",
    "find", "check", "compare", "claim", "browse", "shop", "buy", "continue", "accept", "reject", "manage",
    "take", "land", "boost", "ace",
}  # fmt: skip
CTA_MAX_WORDS = 7
REPEATS_IN_GUIDE = 3
# Repetition alone never removes a section (a handbook repeats its summary);
# it only adds to stronger evidence.
WEAK = {"repeated on the page", "repeated across guides"}
SECTION_SHARE = 0.5
MEDIA_POINTER = "points to a video"
# The labels that open a table's or chart's footnote: where its figures come
# from ("Source: U.S. Bureau of Labor Statistics, ...") or what a row means
# ("Note: All Occupations includes ..."). Under a table such a line credits or
# glosses the figures above it and answers no question; elsewhere it is text.
FOOTNOTE_RE = re.compile(r"^\s*(?:notes?|sources?)\s*:", re.I)
TABLE_FOOTNOTE = "table footnote"


class GuideSettings(BaseModel):
    """What staff set for one guide in ``coach.toml``."""

    exclude: list[str] = []
    """Section names (any heading of the section's path) to keep out of answers."""


class CorpusSettings(BaseModel):
    """The corpus folder's ``coach.toml``: ``[guides."file.txt"] exclude = ["Section"]``."""

    guides: dict[str, GuideSettings] = {}

    def exclude_for(self, source: str) -> list[str]:
        gs = self.guides.get(source)
        return list(gs.exclude) if gs else []


def load_settings(corpus_dir: Path) -> CorpusSettings:
    """Read ``corpus_dir/coach.toml``; no file means no settings.

    The file looks like::

        [guides."health-information-systems-technician.txt"]
        exclude = ["Diversity & Inclusion", "Job Application Toolkit"]
    """
    path = corpus_dir / SETTINGS_FILE
    if not path.is_file():
        return CorpusSettings()
    raw = path.read_bytes()
    if len(raw) > MAX_SETTINGS_BYTES:
        raise CoachError(f"{path} is larger than {MAX_SETTINGS_BYTES // 1024} KB.", "Keep only exclusions in it.")
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))
        return CorpusSettings.model_validate(data)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, ValueError) as exc:
        raise CoachError(
            f"{path} cannot be read ({str(exc).splitlines()[0]}).",
            'Write it as: [guides."GUIDE.txt"] then exclude = ["Section name"].',
        ) from exc


@dataclass
class RawSection:
    """A heading with the units under it, as :mod:`coach.parse` builds it; ``units`` may be empty."""

    heading: str | None
    path: list[str]
    units: list[Unit]
    section: Section | None = None
    flags: list[str] = field(default_factory=list)
    protected: bool = False


def norm(text: str) -> str:
    """A line compared across a guide or corpus: lower case, one space, no trailing stop."""
    return " ".join(text.lower().split()).rstrip(".:!")


def is_cta(text: str) -> bool:
    """A button or link label: short, led by an imperative, not a sentence or a question."""
    words = text.split()
    if not words or len(words) > CTA_MAX_WORDS or text.rstrip()[-1:] in ".?;":
        return False
    return re.sub(r"\W", "", words[0]).lower() in CTA_VERBS


def unit_signal(text: str, repeated: set[str], shared: frozenset[str]) -> str | None:
    """Why a line looks like site clutter, or None."""
    n = norm(text)
    if MARKETING_RE.search(text):
        return "marketing"
    if MEDIA_POINTER_RE.search(text):
        return MEDIA_POINTER
    if is_cta(" ".join(text.split())):
        return "call to action"
    if len(n.split()) >= 2 and n in repeated:
        return "repeated on the page"
    if len(n.split()) >= 3 and n in shared:
        return "repeated across guides"
    return None


def heading_signal(text: str) -> str | None:
    if LINK_HEADING_RE.match(text.strip()):
        return "link list"
    if MARKETING_RE.search(text):
        return "marketing"
    if is_cta(text):
        return "call to action"
    return None


def _matches(name: str, path: list[str]) -> bool:
    key = norm(name)
    return any(norm(h) == key for h in path[1:]) or (len(path) == 1 and norm(path[0]) == key)


def _introduces(unit: Unit, signal: str | None) -> bool:
    """Is ``unit`` a line of content (no clutter signal of its own) that leads into a list?"""
    return unit.kind not in {"bullet", "item"} and signal is None and unit.text.rstrip().endswith(":")


def sift(
    sections: list[RawSection],
    exclude: Iterable[str] = (),
    shared: frozenset[str] = frozenset(),
) -> list[ExcludedSection]:
    """Decide which units are clutter; remove them from each ``Section`` and say what went.

    ``sections`` are in page order, empty headings included (a button after a
    blurb is an empty heading). ``shared`` holds :func:`norm` lines found in
    other guides of the corpus; ``exclude`` the staff's section names.
    """
    exclude = [e for e in exclude if e.strip()]
    counts = Counter(norm(u.text) for s in sections for u in s.units)
    counts.update(norm(s.heading) for s in sections if s.heading)
    repeated = {t for t, c in counts.items() if c >= REPEATS_IN_GUIDE}
    drop: dict[int, dict[int, str]] = {}  # section position -> unit position -> reason
    occupations = False  # inside a list of related occupations (content, see OCCUPATIONS_HEADING_RE)

    for k, sec in enumerate(sections):
        if any(_matches(name, sec.path) for name in exclude):
            if sec.units:
                drop[k] = dict.fromkeys(range(len(sec.units)), "excluded by staff")
            continue
        nxt = sections[k + 1] if k + 1 < len(sections) else None
        card = (
            nxt is not None
            and not nxt.units
            and nxt.heading is not None
            and (is_cta(nxt.heading) or bool(MARKETING_RE.search(nxt.heading)))
            and len(sec.units) <= 3
        )
        if sec.heading and OCCUPATIONS_HEADING_RE.match(sec.heading.strip()):
            occupations = True
        elif sec.units and not card:
            occupations = False
        if not sec.units:
            continue
        if occupations:
            sec.flags = [""] * len(sec.units)
            sec.protected = True
            continue
        head = heading_signal(sec.heading) if sec.heading else None
        sigs = [unit_signal(u.text, repeated, shared) for u in sec.units]
        if head == "link list" or head == "call to action":
            # A list under a link heading is a list of links, unless a line of
            # content introduces it ("You can find out more about training from:",
            # not a button such as "Explore more:").
            items = [(j, u) for j, u in enumerate(sec.units) if u.kind in {"bullet", "item"}]
            introduced = {u.block for j, u in items if j and _introduces(sec.units[j - 1], sigs[j - 1])}
            blocks = {u.block for _, u in items} - introduced
            sigs = [s or ("link list" if u.block in blocks else None) for s, u in zip(sigs, sec.units, strict=True)]
        flagged = sum(s is not None for s in sigs)
        strong = sum(s is not None and s not in WEAK for s in sigs)
        share = (flagged + (head is not None)) / (len(sigs) + (sec.heading is not None))
        if card:
            drop[k] = dict.fromkeys(range(len(sec.units)), "link card")
        elif strong and share >= SECTION_SHARE and (flagged + (head is not None) >= 2 or _short(sec, sigs)):
            if head is not None or sigs[0] is not None:
                drop[k] = {j: s or head or "marketing" for j, s in enumerate(sigs)}
            else:
                # Real text first, then a sign-up box: only the box goes.
                j = len(sigs)
                while j > 0 and sigs[j - 1] is not None:
                    j -= 1
                drop[k] = {i: sigs[i] or "marketing" for i in range(j, len(sigs))}
        sec.flags = [s or "" for s in sigs]

    # A section that only introduces clutter ("Ace your application with our
    # resources:") goes with it.
    for k, sec in enumerate(sections):
        if k in drop or not sec.units or len(sec.units) > 2:
            continue
        after = next((j for j in range(k + 1, len(sections)) if sections[j].units), None)
        if after is not None and after in drop and sec.units[-1].text.rstrip().endswith(":") and any(sec.flags):
            drop[k] = dict.fromkeys(range(len(sec.units)), "introduces a link list")

    # The end of the page: a run of clutter sections is a footer; the last real
    # section loses its trailing flagged lines (a sign-up box under the FAQ).
    k = len(sections) - 1
    while k >= 0:
        sec = sections[k]
        if not sec.units or len(drop.get(k, {})) == len(sec.units):
            k -= 1
            continue
        if sec.protected or not sec.flags:
            break
        tail: dict[int, str] = {}
        for j in range(len(sec.units) - 1, -1, -1):
            reason = sec.flags[j] or _tail_lead_in(sec, j)
            if not reason:
                break
            tail[j] = reason
        drop.setdefault(k, {}).update(tail)
        if not drop[k]:
            del drop[k]
        if len(tail) < len(sec.units):
            break
        k -= 1

    _table_footnotes(sections, drop)  # after the footer: a footnote is no sign of one

    excluded: list[ExcludedSection] = []
    for k, units in sorted(drop.items()):
        sec = sections[k]
        gone = [sec.units[j] for j in sorted(units)]
        reasons = list(dict.fromkeys(units[j] for j in sorted(units)))
        excluded.append(
            ExcludedSection(
                heading_path=sec.path,
                reason=", ".join(reasons),
                char_start=gone[0].char_start,
                char_end=gone[-1].char_end,
                units=len(gone),
                whole=len(gone) == len(sec.units),
                text=" ".join(" ".join(u.text.split()) for u in gone)[:300],
            )
        )
        if sec.section is not None:
            sec.section.units = [u for j, u in enumerate(sec.section.units) if j not in units]
    title = sections[0].path[:1] if sections else []
    for name in exclude:
        if not any(_matches(name, s.path) for s in sections):
            excluded.append(
                ExcludedSection(
                    heading_path=[*title, name], reason="excluded by staff: no section has this name", units=0
                )
            )
    return excluded


def _table_footnotes(sections: list[RawSection], drop: dict[int, dict[int, str]]) -> None:
    """Add to ``drop`` the footnote lines right under a table's rows, in page order.

    A chart title may head the table's rows, so a footnote may follow under the
    heading above it ("Pay"); under any other heading it is text again. One
    footnote may follow another ("Note: ..." then "Source: ..."). Only a line
    that is one sentence alone in its paragraph goes: a note that says more,
    or leads into a list, stays.
    """
    table: list[str] | None = None  # heading path of the table the last line kept belongs to
    for k, sec in enumerate(sections):
        if table is not None and sec.path != table[: len(sec.path)]:
            table = None
        for j, u in enumerate(sec.units):
            if table is not None and _is_footnote(u, sec.units):
                drop.setdefault(k, {}).setdefault(j, TABLE_FOOTNOTE)
                continue
            table = sec.path if u.kind == "table_row" else None


def _is_footnote(unit: Unit, units: list[Unit]) -> bool:
    """A "Source:" / "Note:" line of one sentence, alone in its paragraph, or a table row with that one cell.

    (A Markdown line right under a pipe table, with no blank line between, is read as one more row.)
    """
    text = unit.plain or unit.text
    if not FOOTNOTE_RE.match(text) or len(split_sentences(text)) != 1:
        return False
    if unit.kind == "table_row":
        return sum(bool(c.strip()) for c in unit.cells or [text]) == 1
    return unit.kind not in {"bullet", "item"} and sum(u.block == unit.block for u in units) == 1


def _short(sec: RawSection, sigs: list[str | None]) -> bool:
    """Every flagged line is label-sized (or a pointer to a video): one word such as "premium" in a real sentence is not enough."""
    return all(
        len(u.text.split()) <= CTA_MAX_WORDS or s == MEDIA_POINTER for u, s in zip(sec.units, sigs, strict=True) if s
    )


def _tail_lead_in(sec: RawSection, j: int) -> str:
    """A question or short lead-in right above flagged lines at the page end ("Enjoyed this article?")."""
    if j + 1 < len(sec.units) and sec.flags[j + 1]:
        text = sec.units[j].text.strip()
        if len(text.split()) <= 5 and text.endswith("?") and sec.units[j].block == sec.units[j + 1].block:
            return "page footer"
    return ""


def shared_lines(texts: dict[str, list[str]]) -> dict[str, frozenset[str]]:
    """For each guide, the lines (normalised) that also occur in another guide of the corpus.

    ``texts`` maps a guide's source to its unit texts. A publisher's
    boilerplate (a sign-up box, a "related careers" blurb) recurs across its
    guides; real content rarely does.
    """
    owners: dict[str, set[str]] = {}
    for source, lines in texts.items():
        for line in lines:
            owners.setdefault(norm(line), set()).add(source)
    common = {line for line, srcs in owners.items() if len(srcs) > 1}
    return {source: frozenset(n for n in map(norm, lines) if n in common) for source, lines in texts.items()}
