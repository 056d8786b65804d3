"""Find and read the guides in a corpus folder.

Guides are ``.txt``, ``.md`` and ``.markdown`` files anywhere under the folder
(hidden files and folders are ignored). A file that cannot be used (empty,
binary, not UTF-8, too large, or a byte-identical copy of another guide) is
skipped with a warning, and the rest are indexed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import BaseModel

from coach.errors import CorpusError

GUIDE_SUFFIXES = {".txt", ".md", ".markdown"}
MAX_GUIDE_BYTES = 20 * 1024 * 1024


class GuideFile(BaseModel):
    source: str
    """Path relative to the corpus folder, with forward slashes."""
    text: str
    sha256: str


class CorpusScan(BaseModel):
    guides: list[GuideFile]
    warnings: list[str]


def guide_paths(corpus_dir: Path) -> list[Path]:
    """Candidate guide files under ``corpus_dir`` in a stable order."""
    if not corpus_dir.is_dir():
        raise CorpusError(
            f"The corpus folder {corpus_dir} does not exist.",
            "Create it and put .txt or .md career guides in it, or pass --corpus DIR.",
        )
    return sorted(
        p
        for p in corpus_dir.rglob("*")
        if p.is_file()
        and p.suffix.lower() in GUIDE_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(corpus_dir).parts)
    )


def fingerprint(corpus_dir: Path) -> dict[str, str]:
    """``{source: sha256}`` of every candidate file (unusable ones included), cheaply."""
    return {
        p.relative_to(corpus_dir).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in guide_paths(corpus_dir)
    }


def scan_corpus(corpus_dir: Path) -> CorpusScan:
    """Read every usable guide; raise :class:`CorpusError` if none is usable."""
    guides: list[GuideFile] = []
    warnings: list[str] = []
    by_hash: dict[str, str] = {}
    for path in guide_paths(corpus_dir):
        rel = path.relative_to(corpus_dir).as_posix()
        raw = path.read_bytes()
        if len(raw) > MAX_GUIDE_BYTES:
            warnings.append(f"Skipped {rel}: larger than {MAX_GUIDE_BYTES // (1024 * 1024)} MB.")
            continue
        if not raw.strip():
            warnings.append(f"Skipped {rel}: the file is empty.")
            continue
        if b"\x00" in raw:
            warnings.append(f"Skipped {rel}: it looks like a binary file, not text.")
            continue
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            warnings.append(f"Skipped {rel}: it is not UTF-8 text (save it as UTF-8 and rebuild).")
            continue
        # Offsets are into the text as decoded; a BOM is dropped by utf-8-sig.
        digest = hashlib.sha256(raw).hexdigest()
        if digest in by_hash:
            warnings.append(f"Skipped {rel}: it is identical to {by_hash[digest]}.")
            continue
        by_hash[digest] = rel
        guides.append(GuideFile(source=rel, text=text, sha256=digest))
    if not guides:
        detail = f" ({'; '.join(warnings)})" if warnings else ""
        raise CorpusError(
            f"The corpus folder {corpus_dir} has no usable guides{detail}.",
            "Add UTF-8 .txt or .md career guides to it, or pass --corpus DIR.",
        )
    return CorpusScan(guides=guides, warnings=warnings)


def read_source(corpus_dir: Path, source: str) -> str:
    """The text of one guide, decoded exactly as at index time."""
    return (corpus_dir / source).read_bytes().decode("utf-8-sig")
