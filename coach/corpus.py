"""Find and read the guides in a corpus folder.

Guides are ``.txt``, ``.md`` and ``.markdown`` files anywhere under the folder
(hidden files and folders are ignored). A file that cannot be used (empty,
binary, not UTF-8, too large, or a byte-identical copy of another guide) is
skipped with a warning, and the rest are indexed.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from pydantic import BaseModel

from coach.errors import CorpusError

GUIDE_SUFFIXES = {".txt", ".md", ".markdown"}
SETTINGS_FILE = "coach.toml"
"""Staff settings in the corpus folder (see ``coach/clutter.py``); fingerprinted, never read as a guide."""
MAX_GUIDE_BYTES = 20 * 1024 * 1024
RACY_NS = 2_000_000_000
"""A file modified this close to the moment it was hashed may change again within the
same mtime tick (coarse file-system clocks), so its size and mtime prove nothing."""


class FileState(NamedTuple):
    """What change detection knows of one guide file."""

    size: int
    mtime_ns: int
    sha256: str
    hashed_ns: int
    """Wall-clock time (ns) at which ``sha256`` was computed."""

    def same_stat(self, size: int, mtime_ns: int) -> bool:
        """True when a file with this size and mtime is certainly unchanged since it was hashed."""
        return self.size == size and self.mtime_ns == mtime_ns and self.hashed_ns - mtime_ns > RACY_NS


_memo: dict[str, FileState] = {}
_memo_lock = threading.Lock()


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
    found: list[Path] = []
    # os.walk, pruning hidden folders as it goes: a third of the cost of rglob on every check.
    for folder, subfolders, names in os.walk(corpus_dir):
        subfolders[:] = [d for d in subfolders if not d.startswith(".")]
        for name in names:
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in GUIDE_SUFFIXES:
                path = Path(folder, name)
                if path.is_file():
                    found.append(path)
    return sorted(found)


def file_states(corpus_dir: Path, known: Mapping[str, FileState] | None = None) -> dict[str, FileState]:
    """``{source: FileState}`` of every candidate file (unusable ones included), cheaply.

    A file is hashed only when its size or modification time differs from what
    ``known`` (or an earlier call in this process) recorded, so a check of an
    unchanged corpus costs one ``stat`` per file.
    """
    out: dict[str, FileState] = {}
    root = str(corpus_dir.resolve())
    # The staff settings file (coach.toml: sections excluded per guide) is part
    # of what an index is built from, so editing it makes the index stale.
    settings_file = corpus_dir / SETTINGS_FILE
    extra = [settings_file] if settings_file.is_file() else []
    for path in guide_paths(corpus_dir) + extra:
        rel = path.relative_to(corpus_dir).as_posix()
        try:
            st = path.stat()
        except FileNotFoundError:  # removed while we were listing
            continue
        key = f"{root}/{rel}"
        with _memo_lock:
            prior = _memo.get(key)
        if prior is None or not prior.same_stat(st.st_size, st.st_mtime_ns):
            prior = known.get(rel) if known else None
        if prior is None or not prior.same_stat(st.st_size, st.st_mtime_ns):
            hashed_ns = time.time_ns()
            try:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            except FileNotFoundError:
                continue
            prior = FileState(st.st_size, st.st_mtime_ns, digest, hashed_ns)
        with _memo_lock:
            _memo[key] = prior
        out[rel] = prior
    return out


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
