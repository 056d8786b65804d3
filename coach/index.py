"""Build, save and load the passage index.

Each build is a folder (``index/builds/<manifest id>/``, see coach.builds for
the layout, the ``current`` pointer and the build lock) with fixed file names::

    manifest.json    what it was built from (format, model, guides' sha256, settings)
    passages.jsonl   the passages with their units and offsets
    dense.faiss      FAISS index of passage vectors (inner product on unit vectors)
    units.npy        float16 vectors of every unit (for sentence ranking)
    headings.npy     float16 vector of each passage's own heading (question-to-heading match)
    bm25/            bm25s lexical index of the passages
    words.txt        every word form used in the guides (for the unknown-word check)

One build runs at a time per index folder; it is written to a temporary
folder and published atomically, so an interrupted build leaves the previous
one serving. Vectors come from the vector cache (coach.vectors): only texts
never embedded before by this model are embedded. Loading checks the manifest
against the corpus and model; ``check=False`` serves the current build as it
is (the app does this while a newer one is being built).
"""

from __future__ import annotations

import bisect
import json
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import numpy as np

from coach import lexical
from coach.builds import (
    CACHE,
    adopt_legacy,
    build_lock,
    build_path,
    clean_strays,
    current_folder,
    new_build_folder,
    prune,
    publish,
)
from coach.chunk import chunk_guide, heading_text, unit_context
from coach.corpus import FileState, file_states, scan_corpus
from coach.embed import Embedder
from coach.errors import CoachError, CorruptIndexError, IndexMissingError, StaleIndexError
from coach.parse import parse_corpus
from coach.records import GuideRecord, Manifest, Passage
from coach.settings import Settings
from coach.vectors import VectorCache, text_key

FORMAT_VERSION = 8  # 4: words.txt holds the words of passages, not of whole files; 5: "U.S." is the word "us"; 6: sentence-case headings above their paragraph (plain text), video pointers are clutter; 7: short sentences are gathered into the next one (run-in headings, coach.parse.RUN_IN_MAX_WORDS); 8: a pipe table copied one row per paragraph is one table (coach.plaintext)
HNSW_THRESHOLD = 500_000
"""Passage count from which an HNSW graph replaces exact search. Measured in two runs of
``coach bench --guides 1000`` (real MiniLM vectors of coach.synth guides, 200 real
questions): HNSW (M=32, efSearch=128) reached recall@10 against exact search of 0.998 at
1,000 vectors, 0.95-0.98 at 5,000, 0.94-0.97 on all ~6,000 distinct vectors and 0.55-0.57 on
the ~28,800 passages of 1,000 guides (repeated passages); exact search took 0.04 / 0.3 /
1.6 ms per question at 1k / 5k / 28.8k passages single-threaded (FAISS's default OpenMP
threads made 28.8k cost 16-19 ms on the busy 2-core machine). HNSW is faster from ~5,000
vectors but never matched exact search's recall, so exact search is kept far past every
measured size; 500,000 (~30 ms per question, extrapolated linearly) is where a faster index
would need to be measured again. The 0.21 recall claimed before came from random vectors."""
REBUILD_HINT = "Run: python -m coach build-index (or make run, which rebuilds it)."
EMBED_CHUNK = 1024
"""Texts embedded between two cache commits: a killed build loses at most this much work."""

Progress = Callable[[str, int, int], None]
INFLECTIONS = [("ies", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"), ("ing", ""), ("ing", "e"),
               ("er", ""), ("er", "e"), ("est", ""), ("ly", ""), ("'s", "")]  # fmt: skip


@lru_cache(maxsize=1)
def pipeline_id() -> str:
    """A hash of the code that turns guides into passages and unit contexts (as loaded by this process)."""
    import hashlib

    digest = hashlib.sha256()
    here = Path(__file__).parent
    for name in ("parse.py", "blocks.py", "plaintext.py", "markdown.py", "sentences.py", "chunk.py", "clutter.py"):
        f = here / name
        if f.is_file():
            digest.update(f.read_bytes())
    return digest.hexdigest()[:12]


def passage_words(passages: Iterable[Passage]) -> set[str]:
    """The words a job seeker can be shown: guide titles, headings and passage text.

    Clutter the parser kept out of the passages ("Share this article",
    "Subscribe") is left out too, so a question about it is not taken for one
    the guide answers.
    """
    return {w for p in passages for w in lexical.words(f"{p.title} {' '.join(p.section)} {p.text}")}


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
        folder: Path | None = None,
    ) -> None:
        self.manifest = manifest
        self.folder = folder
        """The build folder this index was loaded from (None when built in memory)."""
        self.passages = passages
        self.dense = dense
        self.unit_vectors = units
        self.heading_vectors = headings
        # float32 copy for the question-to-heading search in retrieval (BLAS, not float16 loops).
        self.heading_search = np.ascontiguousarray(headings, dtype=np.float32) if headings is not None else None
        self.bm25 = bm25
        self.position = {p.id: i for i, p in enumerate(passages)}
        self.unit_start: list[int] = []
        # Items are the sections one level below a heading ("Career Path > Senior"),
        # in guide order; mapped once here so a question never walks every passage.
        self.items: dict[tuple[str, tuple[str, ...]], list[str]] = {}
        self.item_start: dict[tuple[str, tuple[str, ...]], int] = {}
        # Each guide's units in guide order: (char_start, global unit number), for ``unit_at``.
        self._unit_chars: dict[str, list[tuple[int, int]]] = {}
        total = 0
        for i, p in enumerate(passages):
            self.unit_start.append(total)
            self._unit_chars.setdefault(p.source, []).extend((u.char_start, total + j) for j, u in enumerate(p.units))
            total += len(p.units)
            if len(p.section) >= 3:
                items = self.items.setdefault((p.source, tuple(p.section[:2])), [])
                if p.section[2] not in items:
                    items.append(p.section[2])
                self.item_start.setdefault((p.source, tuple(p.section[:3])), i)
        for units_of in self._unit_chars.values():
            units_of.sort()
        self._vocab = set(bm25.vocab_dict) if bm25 is not None else set()
        self.words = sorted(words)
        self._word_set = set(self.words)

    def unit_at(self, source: str, char: int) -> int | None:
        """The global number (``unit_start[passage] + unit``) of the unit of ``source`` holding ``char``."""
        units_of = self._unit_chars.get(source)
        if not units_of:
            return None
        k = bisect.bisect_right(units_of, (char, float("inf"))) - 1
        return units_of[k][1] if k >= 0 else None

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
            # A plural of a two-letter acronym ("IVs", "PCs") is that acronym.
            if w.endswith(suffix) and len(w) - len(suffix) >= (2 if suffix == "s" else 3):
                forms.add(w[: -len(suffix)] + repl)
        for form in forms:
            if form in self._word_set:
                return True
            if len(form) >= 4:
                k = bisect.bisect_left(self.words, form)
                if k < len(self.words) and self.words[k].startswith(form):
                    return True
        return False


class ManifestFile:
    """A manifest as stored: the record, each guide file's sha256, and its size/mtime for cheap checks."""

    def __init__(self, manifest: Manifest, files: dict[str, str], states: dict[str, FileState]) -> None:
        self.manifest = manifest
        self.files = files
        self.states = states


_manifests: dict[tuple[str, int, int, int], ManifestFile] = {}
_manifests_lock = threading.Lock()


def _read_manifest_file(folder: Path) -> ManifestFile:
    """Parse ``folder/manifest.json`` (memoised by its inode, size and mtime: a build never changes)."""
    path = folder / "manifest.json"
    try:
        st = path.stat()
    except FileNotFoundError:
        raise CorruptIndexError(f"The index in {folder} has no manifest.json.", REBUILD_HINT) from None
    key = (str(path), st.st_ino, st.st_mtime_ns, st.st_size)
    with _manifests_lock:
        hit = _manifests.get(key)
    if hit is not None:
        return hit
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        files = data.pop("files")
        raw_states = data.pop("file_states", {})
        manifest = Manifest.model_validate(data)
        states = {src: FileState(int(v[0]), int(v[1]), files[src], int(v[2])) for src, v in raw_states.items()}
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise CorruptIndexError(f"The index manifest {path} is damaged ({type(exc).__name__}).", REBUILD_HINT) from exc
    if manifest.format_version != FORMAT_VERSION:
        raise StaleIndexError(
            f"The index in {folder} uses format {manifest.format_version}, this version reads {FORMAT_VERSION}.",
            REBUILD_HINT,
        )
    found = ManifestFile(manifest, files, states)
    with _manifests_lock:
        if len(_manifests) > 64:
            _manifests.clear()
        _manifests[key] = found
    return found


def _serving_folder(index_dir: Path) -> Path:
    folder = current_folder(index_dir)
    if folder is None:  # a first build that never finished counts as none
        raise IndexMissingError(f"No index has been built in {index_dir} yet.", REBUILD_HINT)
    if not folder.is_dir():
        raise CorruptIndexError(f"The current build of {index_dir} ({folder.name}) is missing.", REBUILD_HINT)
    return folder


def read_manifest(index_dir: Path, manifest_id: str | None = None) -> tuple[Manifest, dict[str, str]]:
    """The manifest of the current build (or of the kept build ``manifest_id``) and its ``{source: sha256}``."""
    if manifest_id is not None:
        folder = build_path(index_dir, manifest_id)
        if folder is None:
            raise IndexMissingError(f"The build {manifest_id} is no longer kept in {index_dir}.", REBUILD_HINT)
    else:
        folder = _serving_folder(index_dir)
    found = _read_manifest_file(folder)
    return found.manifest, found.files


def stale_reasons(index_dir: Path, corpus_dir: Path, model_id: str) -> list[str]:
    """Why the current build does not match the corpus and model (empty when it does).

    Cheap when nothing changed: one ``stat`` per guide, no hashing (see coach.corpus.file_states).
    """
    found = _read_manifest_file(_serving_folder(index_dir))
    manifest, files = found.manifest, found.files
    current = {src: st.sha256 for src, st in file_states(corpus_dir, found.states).items()}
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


def build_index(
    settings: Settings,
    embedder: Embedder,
    progress: Progress = _noop,
    *,
    if_stale: bool = False,
) -> tuple[Manifest, list[str]]:
    """Build the index for ``settings.corpus_dir`` into ``settings.index_dir`` and make it current.

    Waits for any build already running on the same index folder (reporting
    phase ``wait`` to ``progress`` meanwhile). With
    ``if_stale``, a build that another process finished meanwhile is used
    as it is. Returns the manifest and the corpus warnings (skipped files).
    """
    from filelock import Timeout

    index_dir = settings.index_dir
    lock = build_lock(index_dir)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        progress("wait", 0, 0)  # another build holds the folder: say so, then queue behind it
        lock.acquire()
    try:
        clean_strays(index_dir)
        adopt_legacy(index_dir)
        if if_stale:
            try:
                if not stale_reasons(index_dir, settings.corpus_dir, embedder.model_id):
                    manifest, _ = read_manifest(index_dir)
                    return manifest, list(manifest.skipped)
            except CoachError:
                pass  # missing, damaged or of another format: build it
        result = _build(settings, embedder, progress)
        prune(index_dir, settings.keep_builds, settings.keep_build_days)
        return result
    finally:
        lock.release()


def _embed_all(
    texts: list[str], settings: Settings, embedder: Embedder, progress: Progress
) -> tuple[np.ndarray, dict[str, int]]:
    """Vectors of the distinct ``texts`` (from the cache, embedding only the new ones) and each text's row."""
    distinct = list(dict.fromkeys(texts))
    keys = [text_key(t) for t in distinct]
    with VectorCache(settings.index_dir / CACHE, embedder.model_id) as cache:
        found = cache.get_many(keys)
        missing = [k for k, key in enumerate(keys) if key not in found]
        # Longest first across the whole build, so each committed chunk is a run of similar lengths.
        missing.sort(key=lambda k: -len(distinct[k]))
        for start in range(0, len(missing), EMBED_CHUNK):
            rows = missing[start : start + EMBED_CHUNK]

            def tick(done: int, total: int, start: int = start) -> None:
                progress("embed", start + done, len(missing))

            vecs = embedder.encode([distinct[k] for k in rows], settings.batch_size, tick)
            cache.put_many([keys[k] for k in rows], vecs)
            found.update({keys[k]: vecs[j] for j, k in enumerate(rows)})
        if not missing:
            progress("embed", 0, 0)
        cache.retain(keys)
    vectors = np.stack([found[key] for key in keys]).astype(np.float32, copy=False)
    return vectors, {t: k for k, t in enumerate(distinct)}


def _build(settings: Settings, embedder: Embedder, progress: Progress) -> tuple[Manifest, list[str]]:
    import bm25s

    started = time.perf_counter()
    index_dir = settings.index_dir
    try:
        known = _read_manifest_file(_serving_folder(index_dir)).states
    except CoachError:
        known = {}
    states = file_states(settings.corpus_dir, known)
    scan = scan_corpus(settings.corpus_dir)
    for gf in scan.guides:
        st = states.get(gf.source)
        if st is None or st.sha256 != gf.sha256:  # changed while we listed it: record what was indexed
            states[gf.source] = FileState(len(gf.text), -1, gf.sha256, 0)
    passages: list[Passage] = []
    records: list[GuideRecord] = []
    # Parsed as a corpus: staff exclusions (coach.toml) and a publisher's
    # boilerplate repeated across its guides are only visible from all of them.
    progress("parse", 0, len(scan.guides))
    parsed = parse_corpus(settings.corpus_dir, scan.guides)
    for k, (gf, guide) in enumerate(zip(scan.guides, parsed, strict=True)):
        progress("parse", k, len(scan.guides))
        passages.extend(chunk_guide(guide, settings.chunk))
        records.append(GuideRecord(source=gf.source, sha256=gf.sha256, title=guide.title, chars=len(gf.text)))
    progress("parse", len(scan.guides), len(scan.guides))
    if not passages:
        raise CoachError("The guides in the corpus contain no text to index.", "Add guides with text.")

    passage_texts = [p.embed_text for p in passages]
    unit_texts = [unit_context(p, u) for p in passages for u in p.units]
    # Each passage's own heading: a guide's FAQ question or a heading like "Salary"
    # is matched against the question.
    head_texts = [heading_text(p) for p in passages]
    vectors, row = _embed_all([*passage_texts, *unit_texts, *head_texts], settings, embedder, progress)
    pvecs = vectors[[row[t] for t in passage_texts]]
    uvecs = vectors[[row[t] for t in unit_texts]]
    headvecs = vectors[[row[t] for t in head_texts]]
    words = sorted(passage_words(passages))
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
        skipped=list(scan.warnings),
        passage_count=len(passages),
        unit_count=len(unit_texts),
        built_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
        build_seconds=round(time.perf_counter() - started, 2),
        libraries=_versions(),
    )
    while build_path(index_dir, manifest.id) is not None:  # same corpus built twice within a millisecond
        time.sleep(0.002)
        manifest.built_at = datetime.now(UTC).isoformat(timespec="milliseconds")
    _save(index_dir, manifest, states, passages, dense, uvecs, bm25, words, headvecs)
    progress("save", 1, 1)
    return manifest, scan.warnings


def _save(
    index_dir: Path, manifest: Manifest, states: dict[str, FileState], passages, dense, uvecs, bm25, words, headvecs
) -> Path:  # noqa: ANN001
    """Write one build to a fresh temporary folder and publish it as current."""
    import faiss

    tmp = new_build_folder(index_dir)
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
        data["files"] = {src: st.sha256 for src, st in states.items()}
        data["file_states"] = {src: [st.size, st.mtime_ns, st.hashed_ns] for src, st in states.items()}
        # The manifest is written last: a folder without one is never served.
        (tmp / "manifest.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
        return publish(index_dir, tmp, manifest.id)
    except BaseException:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load_index(settings: Settings, model_id: str, check: bool = True, build: str | None = None) -> Index:
    """Load the current build (or the kept build ``build``), refusing a stale or damaged one.

    ``check=False`` skips the comparison with the corpus (the app serves the
    current build while a newer one is made), never the one with the model:
    vectors of another model cannot answer this model's queries.
    """
    import bm25s
    import faiss

    # One question is one query vector: FAISS's thread pool costs more than it
    # saves (coach bench, 28,832 passages: 16.3 ms a search with the default
    # threads on a busy 2-core machine, 1.6 ms with one).
    faiss.omp_set_num_threads(1)
    # The same for numpy's BLAS (the question-to-heading scores are one
    # matrix-vector product): its threads keep spinning after the product and
    # slow the cross-encoder that runs next. 29,107 passages, same 8 pairs:
    # 115 ms after a threaded product, 62 ms after a one-thread one (1.7 ms).
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")

    index_dir = settings.index_dir
    if build is None:
        folder = _serving_folder(index_dir)
    else:
        found_folder = build_path(index_dir, build)
        if found_folder is None:
            raise IndexMissingError(f"The build {build} is no longer kept in {index_dir}.", REBUILD_HINT)
        folder = found_folder
    manifest = _read_manifest_file(folder).manifest
    if check:
        reasons = stale_reasons(index_dir, settings.corpus_dir, model_id)
        if reasons:
            raise StaleIndexError(f"The index in {index_dir} is out of date: {'; '.join(reasons)}.", REBUILD_HINT)
    elif manifest.model != model_id:
        raise StaleIndexError(
            f"The index in {index_dir} was built with another model ({manifest.model}).", REBUILD_HINT
        )
    try:
        with open(folder / "passages.jsonl", encoding="utf-8") as f:
            passages = [Passage.model_validate_json(line) for line in f if line.strip()]
        dense = faiss.read_index(str(folder / "dense.faiss"))
        units = np.load(folder / "units.npy", allow_pickle=False)
        headings = np.load(folder / "headings.npy", allow_pickle=False)
        bm25 = bm25s.BM25.load(str(folder / "bm25"), show_progress=False)
        words = (folder / "words.txt").read_text(encoding="utf-8").split("\n")
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
    return Index(manifest, passages, dense, units, bm25, words, headings, folder=folder)
