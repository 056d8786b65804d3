"""Audit exports: CSV and JSON Lines, written row by row, safe to open in a spreadsheet.

A spreadsheet runs a cell that starts with ``= + - @`` (or a tab or carriage
return, which some strip first) as a formula, so a job seeker's question
``=HYPERLINK(...)`` would run on a staff member's machine. Such text cells
get a leading apostrophe, which spreadsheets show as text and do not store.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator

from coach.audit import TurnRecord

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_FIELDS = [
    "id", "created_at", "conversation_id", "turn_number", "question", "query", "answer_text", "abstained",
    "confidence", "latency_ms", "manifest_id", "feedback", "verdict", "verdict_sentence", "verdict_note",
    "reviewer", "verdict_at", "citations", "followup",
]  # fmt: skip


def neutralise(cell: object) -> object:
    """A text cell a spreadsheet would run as a formula, made plain text; anything else unchanged."""
    if isinstance(cell, str) and cell.startswith(FORMULA_START):
        return "'" + cell
    return cell


def csv_row(t: TurnRecord) -> dict[str, object]:
    v = t.verdict
    row: dict[str, object] = t.model_dump(exclude={"citations", "verdict"})
    row.update(
        verdict=v.verdict if v else "",
        verdict_sentence=(v.sentence or "") if v else "",
        verdict_note=v.note if v else "",
        reviewer=v.reviewer if v else "",
        verdict_at=v.created_at if v else "",
        citations=json.dumps([c.model_dump() for c in t.citations], ensure_ascii=False),
        followup="" if t.followup is None else int(t.followup),
    )
    return {k: neutralise(row[k]) for k in CSV_FIELDS}


def csv_lines(turns: Iterable[TurnRecord]) -> Iterator[str]:
    """The header, then one CSV line per turn (citations as a JSON column)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS)
    writer.writeheader()
    for t in turns:
        writer.writerow(csv_row(t))
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    if buf.getvalue():  # no turns: the header alone
        yield buf.getvalue()


def jsonl_lines(turns: Iterable[TurnRecord]) -> Iterator[str]:
    """One JSON object per turn, with its citations and current verdict."""
    for t in turns:
        yield t.model_dump_json() + "\n"


def to_csv(turns: Iterable[TurnRecord]) -> str:
    return "".join(csv_lines(turns))


def to_jsonl(turns: Iterable[TurnRecord]) -> str:
    return "".join(jsonl_lines(turns))
