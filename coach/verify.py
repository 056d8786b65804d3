"""Citation verification: does a stored quote still match the passage of the build it came from?

Every audited turn names the index build (manifest id) that answered it, and
each citation stores the passage id, offsets, the passage's sha256 and the
sentences quoted. Index builds are kept in ``index/builds/<manifest-id>/``
(see :func:`coach.index.build_path`), so the record can be checked against the
exact passages it quoted, and then against the guide as it is today.

Outcomes, per citation and per turn (the worst citation):

- ``verified``: the build's passage has the stored hash and holds every quoted
  sentence, and the current guide still holds them;
- ``edited``: the record matches its build, but the guide was edited since
  (a quote is no longer in the current guide, or the guide is gone);
- ``gone``: the build is no longer kept, so the record cannot be checked;
- ``mismatch``: the build is kept but the record does not match it (a passage
  missing, another hash, a quote not in the passage): the audit record and
  the index disagree, which ``coach audit verify`` reports with exit code 1.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from coach.audit import CitationRecord, TurnRecord
from coach.corpus import read_source
from coach.index import build_path
from coach.records import Passage

Status = Literal["verified", "edited", "gone", "mismatch"]
SEVERITY: dict[str, int] = {"verified": 0, "edited": 1, "gone": 2, "mismatch": 3}
LABELS: dict[str, str] = {
    "verified": "verified",
    "edited": "guide edited since",
    "gone": "build no longer kept",
    "mismatch": "MISMATCH",
}


class CitationCheck(BaseModel):
    marker: int
    status: Status
    detail: str
    """One sentence saying what was found."""


class TurnCheck(BaseModel):
    turn_id: int
    manifest_id: str
    status: Status
    """The worst outcome among the citations; ``verified`` for a turn that quoted nothing."""
    citations: list[CitationCheck]


class Verifier:
    """Checks audited turns against kept builds and the current corpus (both read once, then cached)."""

    def __init__(
        self, index_dir: Path, corpus_dir: Path, build_cache: dict[str, dict[str, Passage]] | None = None
    ) -> None:
        """``build_cache`` may be shared between verifiers: a kept build never changes."""
        self.index_dir = Path(index_dir)
        self.corpus_dir = Path(corpus_dir)
        self._builds: dict[str, dict[str, Passage]] = build_cache if build_cache is not None else {}
        self._gone: set[str] = set()
        self._guides: dict[str, str | None] = {}

    def build_passages(self, manifest_id: str) -> dict[str, Passage] | None:
        """``{passage_id: Passage}`` of a kept build, or None when the build is no longer kept."""
        if manifest_id in self._builds:
            return self._builds[manifest_id]
        if manifest_id in self._gone:
            return None
        folder = build_path(self.index_dir, manifest_id)
        if folder is None or not (folder / "passages.jsonl").is_file():
            self._gone.add(manifest_id)
            return None
        with open(folder / "passages.jsonl", encoding="utf-8") as f:
            found = {p.id: p for p in (Passage.model_validate_json(line) for line in f if line.strip())}
        self._builds[manifest_id] = found
        return found

    def current_guide(self, source: str) -> str | None:
        if source not in self._guides:
            try:
                self._guides[source] = read_source(self.corpus_dir, source)
            except (OSError, UnicodeDecodeError):
                self._guides[source] = None
        return self._guides[source]

    def _now(self, c: CitationRecord) -> tuple[bool, str]:
        """Is every quote of ``c`` still in the current guide? With the sentence that says so."""
        text = self.current_guide(c.source)
        if text is None:
            return False, f"{c.source} is no longer in the corpus"
        missing = [q for q in c.quoted if q not in text]
        if missing:
            return False, f"the current {c.source} no longer contains “{_short(missing[0])}”"
        return True, f"the current {c.source} still contains the quote"

    def check_citation(self, manifest_id: str, c: CitationRecord) -> CitationCheck:
        passages = self.build_passages(manifest_id)
        still, now = self._now(c)
        if passages is None:
            return CitationCheck(
                marker=c.marker, status="gone", detail=f"Build {manifest_id} is no longer kept; {now}."
            )
        p = passages.get(c.passage_id)
        if p is None:
            return CitationCheck(
                marker=c.marker, status="mismatch", detail=f"Passage {c.passage_id} is not in build {manifest_id}."
            )
        if hashlib.sha256(p.text.encode("utf-8")).hexdigest() != c.passage_sha256 or (
            p.source, p.char_start, p.char_end) != (c.source, c.char_start, c.char_end):  # fmt: skip
            return CitationCheck(
                marker=c.marker,
                status="mismatch",
                detail=f"Passage {c.passage_id} of build {manifest_id} differs from the one recorded (hash or offsets).",
            )
        absent = [q for q in c.quoted if q not in p.text]
        if absent:
            return CitationCheck(
                marker=c.marker,
                status="mismatch",
                detail=f"Passage {c.passage_id} of build {manifest_id} does not contain “{_short(absent[0])}”.",
            )
        if not still:
            return CitationCheck(
                marker=c.marker,
                status="edited",
                detail=f"Matches build {manifest_id}, but the guide was edited since: {now}.",
            )
        return CitationCheck(marker=c.marker, status="verified", detail=f"Matches build {manifest_id}; {now}.")

    def check(self, turn: TurnRecord) -> TurnCheck:
        checks = [self.check_citation(turn.manifest_id, c) for c in turn.citations]
        worst = max((c.status for c in checks), key=SEVERITY.__getitem__, default="verified")
        return TurnCheck(turn_id=turn.id, manifest_id=turn.manifest_id, status=worst, citations=checks)


def _short(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"
