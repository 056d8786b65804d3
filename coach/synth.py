"""Synthetic corpora for benchmarks: many distinct guides recombined from the real ones.

``python -m coach synth --guides N --out DIR`` writes N guides made only of
sentences from the real guides we have (the seed guide, ``../shared/guides``,
``eval/guides``, ``tests/fixtures``), so their texts and vectors are real:

- Each guide belongs to an **occupation** with a new name ("Marine Welder"),
  drawn from a fixed list. The occupation picks a base guide and up to three
  "donor" sections of other guides of the same format (Markdown or plain text);
  every mention of the base's or a donor's occupation is renamed (articles and
  plurals follow), so the guide reads as one about the new occupation.
- Each guide keeps a random subset of its base's top-level sections (at least
  60%, in order), takes 0-2 of its occupation's donor sections, and names its
  edition and region in one sentence after the title, so no two guides are the
  same file.
- Guide ``i`` depends only on ``(seed, i, occupations)``: the first 10 guides
  of a 100-guide corpus are the 10-guide corpus, and the same seed always
  writes the same bytes.

What this costs to index, honestly: a unit is embedded with its guide's title
(``coach.chunk.unit_context``), so every guide of a new occupation brings
~150-300 new texts (267 for the one the benchmark adds), while a further
guide of a known occupation brings ~2-3 (its edition sentence and the
passage holding it; the rest are in the vector cache). ``occupations=None`` gives every guide its own occupation, which is
what a real corpus of N career guides costs; a smaller pool (the benchmark
uses 20) makes a 1,000-guide corpus buildable in minutes on 2 cores, and the
benchmark says so next to its figures. Guides of one occupation are
"editions" (different regions, different section choices), which is how
duplicated material looks in a real career service.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from coach.parse import parse_guide

ROOT = Path(__file__).resolve().parent.parent
QUALIFIERS = [
    "Marine", "Clinical", "Industrial", "Agricultural", "Aviation", "Railway", "Municipal", "Forensic",
    "Renewable Energy", "Museum", "Hospital", "Construction", "Retail", "Logistics", "Laboratory", "Broadcast",
    "Insurance", "Automotive", "Textile", "Mining", "Hospitality", "Telecom", "Water Utility", "Veterinary",
    "Library", "Court", "Customs", "Pharmaceutical", "Space Systems", "Offshore", "Environmental", "Fleet",
    "Packaging", "Print Media", "Sports", "Theatre", "Tourism", "Warehouse", "Public Health", "Election",
]  # fmt: skip
ROLES = [
    "Welder", "Analyst", "Technician", "Coordinator", "Inspector", "Planner", "Engineer", "Specialist",
    "Administrator", "Auditor", "Surveyor", "Designer", "Consultant", "Operator", "Archivist", "Estimator",
    "Scheduler", "Trainer", "Supervisor", "Mechanic", "Programmer", "Buyer", "Assessor", "Investigator",
    "Editor",
]  # fmt: skip
REGIONS = [
    "the North West", "the Midlands", "Scotland", "Wales", "Ontario", "Queensland", "the Pacific Northwest",
    "New England", "the Gulf Coast", "Bavaria", "Leinster", "Auckland", "the Prairies", "the Cape",
]  # fmt: skip
MIN_KEEP = 0.6
"""Share of the base guide's top-level sections every guide keeps."""


class SourceGuide(BaseModel):
    """A real guide cut into its preamble (title, intro) and its top-level sections."""

    name: str
    """File stem, e.g. ``electrician``."""
    suffix: str
    """``.txt`` or ``.md``: guides are only recombined with guides of the same format."""
    occupation: str
    """What its text calls the occupation (from the file name), renamed in every synthetic guide."""
    preamble: str
    sections: list[str]


class SynthGuide(BaseModel):
    """One synthetic guide: its path in the corpus, its occupation and text."""

    path: str
    occupation: str
    base: str
    text: str


EVAL_SOURCES = (
    "copywriter.txt", "electrician.txt", "lifeguard.txt", "paramedic.txt", "teacher.txt", "ux-designer.txt",
    "data-analyst.md", "pharmacy-technician.md", "welder.md",
)  # fmt: skip
"""The guides of ``eval/guides`` the generator recombines, in its order: a fixed list, so a labelled
guide added later does not change the corpora (nor the scale figures) a seed has always written."""


def _guides_in(folder: Path) -> list[Path]:
    return [p for pattern in ("*.txt", "*.md") for p in sorted(folder.glob(pattern)) if p.name != "SOURCES.md"]


def default_sources(root: Path = ROOT) -> list[Path]:
    """The real guides the generator recombines, in a fixed order."""
    found = [
        root / "corpus" / "health-information-systems-technician.txt",
        *_guides_in(root.parent / "shared" / "guides"),
        *(root / "eval" / "guides" / n for n in EVAL_SOURCES),
        *_guides_in(root / "tests" / "fixtures"),
    ]
    return [p for p in found if p.is_file()]


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def split_source(path: Path) -> SourceGuide:
    """Cut a guide at its top-level headings (the parser's heading paths), keeping every character."""
    text = path.read_bytes().decode("utf-8-sig")
    guide = parse_guide(text, path.name)
    starts: list[int] = []
    last_key: str | None = None
    for sec in guide.sections:
        if len(sec.heading_path) < 2 or sec.heading_path[1] == last_key:
            continue
        last_key = sec.heading_path[1]
        # The group's own heading line sits before its first sub-section ("## Getting Started").
        lo = starts[-1] if starts else 0
        at = text.rfind(last_key[:20], lo, sec.char_start + 1)
        pos = _line_start(text, at if at >= 0 else sec.char_start)
        if not re.fullmatch(r"[#*\s\d.]*", text[pos : max(at, pos)]):
            pos = _line_start(text, sec.char_start)
        if not starts or pos > starts[-1]:
            starts.append(pos)
    if not starts:
        return SourceGuide(name=path.stem, suffix=path.suffix, occupation=_occupation(path), preamble=text, sections=[])
    bounds = [*starts, len(text)]
    sections = [text[a:b].strip("\n") + "\n" for a, b in zip(bounds, bounds[1:], strict=False)]
    return SourceGuide(
        name=path.stem,
        suffix=path.suffix.lower(),
        occupation=_occupation(path),
        preamble=text[: starts[0]].strip("\n") + "\n",
        sections=[s for s in sections if s.strip()],
    )


def _occupation(path: Path) -> str:
    return " ".join(re.split(r"[-_]+", path.stem))


def occupation_names(seed: int) -> list[str]:
    """Every occupation name the generator uses, in the order guides take them (1,000 distinct)."""
    names = [f"{q} {r}" for q in QUALIFIERS for r in ROLES]
    random.Random(f"{seed}:names").shuffle(names)
    return names


def rename(text: str, occupation: str, name: str) -> str:
    """Replace ``occupation`` (any case, singular or plural, with its article) by ``name``."""
    words = occupation.split()
    stem = words[-1][:-1] if words[-1].lower().endswith("s") and len(words[-1]) > 4 else words[-1]
    core = r"\s+".join([*map(re.escape, words[:-1]), re.escape(stem)])
    pattern = re.compile(rf"\b(?:(an?)\s+)?({core})(s|es)?\b", re.IGNORECASE)

    def repl(m: re.Match[str]) -> str:
        found = m.group(2)
        new = name if found[:1].isupper() else name.lower()
        if found.isupper() and len(found) > 3:
            new = name.upper()
        if m.group(3):
            new += "s"
        article = m.group(1)
        if article:
            an = "an" if new[:1].lower() in "aeiou" else "a"
            article = an.capitalize() if article[:1].isupper() else an
            return f"{article} {new}"
        return new

    return pattern.sub(repl, text)


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def make_guide(sources: Sequence[SourceGuide], i: int, seed: int = 0, occupations: int | None = None) -> SynthGuide:
    """Guide number ``i`` (0-based) of the corpus made with ``seed``; see the module docstring."""
    names = occupation_names(seed)
    j = i if not occupations else i % occupations
    edition = 1 if not occupations else i // occupations + 1
    name = names[j % len(names)] + ("" if j < len(names) else f" {j // len(names) + 1}")
    occ = random.Random(f"{seed}:occupation:{j}")
    base = sources[occ.randrange(len(sources))]
    peers = [s for s in sources if s.suffix == base.suffix and s.name != base.name and s.sections]
    donors = [(d, d.sections[occ.randrange(len(d.sections))]) for d in occ.sample(peers, min(3, len(peers)))]

    rng = random.Random(f"{seed}:guide:{i}")
    n = len(base.sections)
    keep = sorted(rng.sample(range(n), max(1, round(n * rng.uniform(MIN_KEEP, 1.0))))) if n else []
    body = [rename(base.sections[k], base.occupation, name) for k in keep]
    for donor, section in rng.sample(donors, rng.randint(0, len(donors))):
        body.insert(rng.randint(1, len(body)) if body else 0, rename(section, donor.occupation, name))
    region = REGIONS[rng.randrange(len(REGIONS))]
    note = f"This is edition {edition} of the guide, written for readers in {region}.\n"
    preamble = rename(base.preamble, base.occupation, name)
    cut = preamble.find("\n\n")
    preamble = preamble + "\n" + note if cut < 0 else preamble[: cut + 1] + "\n" + note + preamble[cut + 1 :]
    text = "\n".join([preamble, *body])
    path = f"edition-{edition:03d}/{slug(name)}{base.suffix}"
    return SynthGuide(path=path, occupation=name, base=base.name, text=text)


def write_corpus(
    out: Path,
    guides: int,
    seed: int = 0,
    occupations: int | None = None,
    sources: Sequence[Path] | None = None,
    start: int = 0,
) -> list[SynthGuide]:
    """Write guides ``start .. guides-1`` into ``out`` and return them. Existing files are replaced."""
    cut = [split_source(p) for p in (sources if sources is not None else default_sources())]
    cut = [s for s in cut if s.sections]
    if not cut:
        raise ValueError("No source guide with sections to recombine.")
    made = []
    for i in range(start, guides):
        g = make_guide(cut, i, seed, occupations)
        target = out / g.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(g.text, encoding="utf-8")
        made.append(g)
    return made
