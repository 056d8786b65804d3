"""Split a parsed guide's sections into bounded passages.

A passage is a run of whole units (sentences, bullets, table rows, facts) of
one section, never crossing a section boundary and never cutting a unit,
closed before it would exceed ``max_words``. Its text is the exact slice of
the source between its first and last unit. A single unit longer than
``hard_max_words`` (a run-on paragraph with no sentence stops) is the only
thing ever split, at word boundaries, so the embedder never truncates.
"""

from __future__ import annotations

import hashlib
import re

from coach.records import Guide, Passage, Unit
from coach.settings import ChunkSettings


def passage_id(source: str, section: list[str], text: str, occurrence: int) -> str:
    """Stable id: the same text under the same heading in the same file keeps its id."""
    key = "\x1f".join([source, " > ".join(section), text, str(occurrence)])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def _split_long(unit: Unit, text: str, hard_max: int) -> list[Unit]:
    words = list(re.finditer(r"\S+", unit.text))
    if len(words) <= hard_max:
        return [unit]
    pieces: list[Unit] = []
    for k in range(0, len(words), hard_max):
        chunk = words[k : k + hard_max]
        s = unit.char_start + chunk[0].start()
        e = unit.char_start + chunk[-1].end()
        pieces.append(unit.model_copy(update={"text": text[s:e], "char_start": s, "char_end": e}))
    return pieces


def chunk_guide(guide: Guide, settings: ChunkSettings | None = None) -> list[Passage]:
    """Passages of ``guide`` in document order. See the module docstring for the rules."""
    settings = settings or ChunkSettings()
    text = guide.text
    passages: list[Passage] = []
    seen: dict[tuple[str, str], int] = {}

    def close(units: list[Unit], path: list[str]) -> None:
        if not units:
            return
        s, e = units[0].char_start, units[-1].char_end
        body = text[s:e]
        key = (" > ".join(path), body)
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        passages.append(
            Passage(
                id=passage_id(guide.source, path, body, occurrence),
                source=guide.source,
                title=guide.title,
                section=path,
                text=body,
                char_start=s,
                char_end=e,
                units=list(units),
            )
        )

    for section in guide.sections:
        current: list[Unit] = []
        for unit in section.units:
            for piece in _split_long(unit, text, settings.hard_max_words):
                if current:
                    words = len(text[current[0].char_start : piece.char_end].split())
                    if words > settings.max_words:
                        close(current, section.heading_path)
                        current = []
                current.append(piece)
        close(current, section.heading_path)
    return passages


def unit_context(passage: Passage, unit: Unit) -> str:
    """How a unit is shown to the embedder and reranker: guide title, headings, then its text.

    A table row is spelled out with its column names ("Level: ...; US Median: ...").
    Markup is left out (``Unit.plain``). The guide title names the career, so a
    unit is read as being about this job, not any job.
    """
    if unit.kind == "table_row" and unit.columns and unit.cells:
        body = "; ".join(f"{c}: {v}" for c, v in zip(unit.columns, unit.cells, strict=False))
    else:
        body = " ".join(unit_plain(unit).split())
    path = " > ".join([passage.title, *passage.section[1:]])
    return f"{path}: {body}"


def unit_plain(unit: Unit) -> str:
    """The unit's text without markup, when the parser recorded one."""
    return getattr(unit, "plain", None) or unit.text


def heading_text(passage: Passage) -> str:
    """The heading a passage sits directly under (the guide title for a passage before any heading)."""
    return " ".join((passage.section[-1] if passage.section else passage.title).split())
