"""Build, save and load the passage index.

An index is a folder with fixed file names::

    manifest.json    what it was built from (format, model, guides' sha256, settings)
    passages.jsonl   the passages with their units and offsets
    dense.faiss      FAISS index of passage vectors (inner product on unit vectors)
    units.npy        float16 vectors of every unit (for sentence ranking)
    headings.npy     float16 vector of each passage's own heading (question-to-heading match)
    bm25/            bm25s lexical index of the passages
    words.txt        every word form used in the guides (for the unknown-word check)

It is built in a sibling temporary folder and renamed into place, so an
interrupted build never leaves a folder that loads. Loading checks the
manifest against the corpus and model; a stale index is never served.
"""

from __future__ import annotations

import bisect
import json
import os
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np

from coach import lexical
from coach.chunk import chunk_guide, heading_text, unit_context
from coach.corpus import fingerprint, scan_corpus
from coach.embed import Embedder
from coach.errors import CoachError, CorruptIndexError, IndexMissingError, StaleIndexError
from coach.parse import parse_guide
from coach.records import GuideRecord, Manifest, Passage
from coach.settings import Settings

FORMAT_VERSION = 3
HNSW_THRESHOLD = 500_000
"""Passage count from which an HNSW graph replaces exact search. Measured (coach bench):
exact search stays within the latency budget at 100,000 passages, while HNSW (M=32,
efSearch=128) reached only 0.21 recall@10 against exact search on unstructured vectors."""
REBUILD_HINT = "Run: python -m coach build-index (or make run, which rebuilds it)."

Progress = Callable[[str, int, int], None]
INFLECTIONS = [("ies", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"), ("ing", ""), ("ing", "e"),
               ("er", ""), ("er", "e"), ("est", ""), ("ly", ""), ("'s", "")]  # fmt: skip


def pipeline_id() -> str:
    """A hash of the code that turns guides into passages and unit contexts."""
    import hashlib

    digest = hashlib.sha256()
    here = Path(__file__).parent
    for name in ("parse.py", "blocks.py", "plaintext.py", "markdown.py", "sentences.py", "chunk.py"):
        f = here / name
        if f.is_file():
            digest.update(f.read_bytes())
    return digest.hexdigest()[:12]


def _noop(phase: str, done: int, total: int) -> None:
    return None


def make_faiss_index(vectors: np.ndarray, index_type: str | None = None):  # noqa: ANN201
    """Exact inner-product search for small corpora, HNSW from ``HNSW_THRESHOLD`` passages."""
    import faiss

    n, dim = vectors.shape
    index_type = index_type or ("hnsw" if n >= HNSW_THRESHOLD else "flat")
    if index_type == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 128
    else:
        index = faiss.IndexFlatIP(dim)
    if n:
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index, index_type


def _versions() -> dict[str, str]:
    out = {}
    for pkg in ["faiss-cpu", "sentence-transformers", "torch", "bm25s", "numpy", "pydantic"]:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


class Index:
    """A loaded index: passages, dense vectors, unit vectors and BM25."""

    def __init__(
        self,
        manifest: Manifest,
        passages: list[Passage],
        dense,  # noqa: ANN001
        units: np.ndarray,
        bm25,  # noqa: ANN001
        words: list[str],
        headings: np.ndarray | None = None,
    ) -> None:
        self.manifest = manifest
        self.passages = passages
        self.dense = dense
        self.unit_vectors = units
        self.heading_vectors = headings
        self.bm25 = bm25
        self.position = {p.id: i for i, p in enumerate(passages)}
        self.unit_start: list[int] = []
        total = 0
        for p in passages:
            self.unit_start.append(total)
            total += len(p.units)
        self._vocab = set(bm25.vocab_dict) if bm25 is not None else set()
        self.words = sorted(words)
        self._word_set = set(self.words)

    def dense_search(self, qvec: np.ndarray, k: int) -> list[tuple[int, float]]:
        k = min(k, len(self.passages))
        if k <= 0:
            return []
        scores, ids = self.dense.search(np.ascontiguousarray(qvec.reshape(1, -1), dtype=np.float32), k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def lexical_scores(self, query_tokens: list[str]) -> np.ndarray:
        toks = [t for t in query_tokens if t in self._vocab]
        if not toks:
            return np.zeros(len(self.passages), dtype=np.float32)
        return np.asarray(self.bm25.get_scores(toks), dtype=np.float32)

    def knows(self, word: str) -> bool:
        """True if the guides use ``word`` or an inflection of it.

        Surface forms, not stems: a stemmer folds "nurse" into "nursing", and a
        question about nurses is not a question about nursing homes. Inflections
        are undone on the question's word ("paced" -> "pace", "harder" ->
        "hard"), and a guide word may extend it ("nurse" -> "nurses", "cert" ->
        "certification").
        """
        w = word.lower()
        forms = {w}
        for suffix, repl in INFLECTIONS:
            if w.endswith(suffix) and len(w) - len(suffix) >= 3:
                forms.add(w[: -len(suffix)] + repl)
        for form in forms:
            if form in self._word_set:
                return True
            if len(form) >= 4:
                k = bisect.bisect_left(self.words, form)
                if k < len(self.words) and self.words[k].startswith(form):
                    return True
        return False


def build_index(settings: Settings, embedder: Embedder, progress: Progress = _noop) -> tuple[Manifest, list[str]]:
    """Build the index for ``settings.corpus_dir`` into ``settings.index_dir``.

    Returns the manifest and the corpus warnings (skipped files).
    """
    import bm25s

    started = time.perf_counter()
    scan = scan_corpus(settings.corpus_dir)
    files = fingerprint(settings.corpus_dir)
    passages: list[Passage] = []
    records: list[GuideRecord] = []
    for k, gf in enumerate(scan.guides):
        progress("parse", k, len(scan.guides))
        guide = parse_guide(gf.text, gf.source)
        passages.extend(chunk_guide(guide, settings.chunk))
        records.append(GuideRecord(source=gf.source, sha256=gf.sha256, title=guide.title, chars=len(gf.text)))
    progress("parse", len(scan.guides), len(scan.guides))
    if not passages:
        raise CoachError("The guides in the corpus contain no text to index.", "Add guides with text.")

    unit_texts = [unit_context(p, u) for p in passages for u in p.units]
    total = len(passages) + len(unit_texts)
    pvecs = embedder.encode(
        [p.embed_text for p in passages], settings.batch_size, lambda d, t: progress("embed", d, total)
    )
    uvecs = embedder.encode(unit_texts, settings.batch_size, lambda d, t: progress("embed", len(passages) + d, total))
    # Each passage's own heading, embedded once per distinct text: a guide's
    # FAQ question or a heading like "Salary" is matched against the question.
    heads = sorted({heading_text(p) for p in passages})
    hvecs = embedder.encode(heads, settings.batch_size)
    row = {h: k for k, h in enumerate(heads)}
    headvecs = hvecs[[row[heading_text(p)] for p in passages]]
    words = sorted({w for gf in scan.guides for w in lexical.words(gf.text)})
    dense, index_type = make_faiss_index(pvecs)
    bm25 = bm25s.BM25()
    bm25.index([lexical.tokens(p.lexical_text) or ["_"] for p in passages], show_progress=False)

    manifest = Manifest(
        format_version=FORMAT_VERSION,
        model=embedder.model_id,
        dimension=int(pvecs.shape[1]),
        normalized=True,
        index_type=index_type,
        chunking=settings.chunk.model_dump(),
        pipeline=pipeline_id(),
        guides=records,
        skipped=[w for w in scan.warnings],
        passage_count=len(passages),
        unit_count=len(unit_texts),
        built_at=datetime.now(UTC).isoformat(timespec="seconds"),
        build_seconds=round(time.perf_counter() - started, 2),
        libraries=_versions(),
    )
    _save(settings.index_dir, manifest, files, passages, dense, uvecs, bm25, words, headvecs)
    progress("save", 1, 1)
    return manifest, scan.warnings


def _save(
    index_dir: Path, manifest: Manifest, files: dict[str, str], passages, dense, uvecs, bm25, words, headvecs
) -> None:  # noqa: ANN001
    import faiss

    index_dir = index_dir.resolve()
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = index_dir.parent / f".{index_dir.name}.building-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        with open(tmp / "passages.jsonl", "w", encoding="utf-8") as f:
            for p in passages:
                f.write(p.model_dump_json() + "\n")
        faiss.write_index(dense, str(tmp / "dense.faiss"))
        np.save(tmp / "units.npy", uvecs.astype(np.float16))
        np.save(tmp / "headings.npy", headvecs.astype(np.float16))
        bm25.save(str(tmp / "bm25"), show_progress=False)
        (tmp / "words.txt").write_text("\n".join(words), encoding="utf-8")
        data = manifest.model_dump(mode="json")
        data["files"] = files
        # The manifest is written last: a folder without one never loads.
        (tmp / "manifest.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
        old = index_dir.parent / f".{index_dir.name}.old-{os.getpid()}"
        if index_dir.exists():
            index_dir.rename(old)
        tmp.rename(index_dir)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def read_manifest(index_dir: Path) -> tuple[Manifest, dict[str, str]]:
    path = index_dir / "manifest.json"
    if not path.exists():
        if index_dir.exists() and any(index_dir.iterdir()):
            raise CorruptIndexError(f"The index in {index_dir} has no manifest.json.", REBUILD_HINT)
        raise IndexMissingError(f"No index has been built in {index_dir} yet.", REBUILD_HINT)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        files = data.pop("files")
        manifest = Manifest.model_validate(data)
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptIndexError(f"The index manifest {path} is damaged ({type(exc).__name__}).", REBUILD_HINT) from exc
    if manifest.format_version != FORMAT_VERSION:
        raise StaleIndexError(
            f"The index in {index_dir} uses format {manifest.format_version}, this version reads {FORMAT_VERSION}.",
            REBUILD_HINT,
        )
    return manifest, files


def stale_reasons(index_dir: Path, corpus_dir: Path, model_id: str) -> list[str]:
    """Why the index does not match the corpus and model (empty when it does)."""
    manifest, files = read_manifest(index_dir)
    current = fingerprint(corpus_dir)
    reasons = []
    for src in sorted(set(current) - set(files)):
        reasons.append(f"{src} was added")
    for src in sorted(set(files) - set(current)):
        reasons.append(f"{src} was removed")
    for src in sorted(set(files) & set(current)):
        if files[src] != current[src]:
            reasons.append(f"{src} changed")
    if manifest.model != model_id:
        reasons.append(f"the model changed ({manifest.model} -> {model_id})")
    if manifest.pipeline != pipeline_id():
        reasons.append("the parsing code changed")
    return reasons


def load_index(settings: Settings, model_id: str, check: bool = True) -> Index:
    """Load the index, refusing a stale or damaged one with a clear error."""
    import bm25s
    import faiss

    index_dir = settings.index_dir
    manifest, _ = read_manifest(index_dir)
    if check:
        reasons = stale_reasons(index_dir, settings.corpus_dir, model_id)
        if reasons:
            raise StaleIndexError(f"The index in {index_dir} is out of date: {'; '.join(reasons)}.", REBUILD_HINT)
    try:
        with open(index_dir / "passages.jsonl", encoding="utf-8") as f:
            passages = [Passage.model_validate_json(line) for line in f if line.strip()]
        dense = faiss.read_index(str(index_dir / "dense.faiss"))
        units = np.load(index_dir / "units.npy", allow_pickle=False)
        headings = np.load(index_dir / "headings.npy", allow_pickle=False)
        bm25 = bm25s.BM25.load(str(index_dir / "bm25"), show_progress=False)
        words = (index_dir / "words.txt").read_text(encoding="utf-8").split("\n")
    except Exception as exc:  # any read failure means the files are damaged
        raise CorruptIndexError(f"The index in {index_dir} is damaged ({type(exc).__name__}).", REBUILD_HINT) from exc
    if (
        len(passages) != manifest.passage_count
        or dense.ntotal != manifest.passage_count
        or dense.d != manifest.dimension
        or units.shape != (manifest.unit_count, manifest.dimension)
        or headings.shape != (manifest.passage_count, manifest.dimension)
    ):
        raise CorruptIndexError(f"The index in {index_dir} is inconsistent with its manifest.", REBUILD_HINT)
    return Index(manifest, passages, dense, units, bm25, words, headings)
