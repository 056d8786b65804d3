"""Runs over labelled guides: ``coach train`` and ``coach eval --sets [--cv]``.

Each guide gets an index of its own (kept under a cache folder and rebuilt
when the guide changes), so a question is only ever answered from its guide.
One embedder and one cross-encoder serve every guide.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from coach.answer import Coach
from coach.baseline import TutorialCoach
from coach.collect import TurnData, bootstrap_model, collect
from coach.corpus import read_source
from coach.embed import SentenceTransformerEmbedder
from coach.errors import CoachError
from coach.evaluate import (
    BatchResult,
    Conversation,
    EvalReport,
    GuideSet,
    guide_index_settings,
    run_conversation,
    score,
)
from coach.model import AnswerModel
from coach.reader import TunedCrossEncoder
from coach.rerank import CrossEncoder
from coach.service import ensure_index
from coach.settings import Settings
from coach.train import finish, fit_model

Log = Callable[[str], None]


class Memo:
    """Remembers pairs the reader scored (collection and held-out runs ask many twice)."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - the reader's own
        super().__init__(*args, **kwargs)
        self._memo: dict[tuple[str, str], float] = {}
        self.remember = True

    def score(self, query: str, texts, batch_size: int = 16) -> np.ndarray:  # noqa: ANN001
        if not self.remember:  # measured runs pay for every pair, so latencies are real
            return super().score(query, texts, batch_size)
        todo = [t for t in dict.fromkeys(texts) if (query, t) not in self._memo]
        if todo:
            for t, s in zip(todo, super().score(query, todo, batch_size), strict=True):
                self._memo[(query, t)] = float(s)
        return np.asarray([self._memo[(query, t)] for t in texts], dtype=np.float32)


class MemoCrossEncoder(Memo, CrossEncoder):
    """The installed cross-encoder, remembering."""


class MemoTunedCrossEncoder(Memo, TunedCrossEncoder):
    """A tuned reader (``coach.reader``), remembering."""


class GuideRun(BaseModel):
    """One guide's figures, and the tutorial pipeline's on the same questions."""

    name: str
    report: EvalReport
    baseline: EvalReport
    conversations: int


class Workbench:
    """The guides of a sets file, each with its index and coach, sharing the models."""

    def __init__(self, sets: list[GuideSet], cache: Path, settings: Settings, log: Log) -> None:
        self.log = log
        self.embedder = SentenceTransformerEmbedder(settings.model_path)
        self.cache = cache
        self.reranker = MemoCrossEncoder(settings.reranker_dir) if settings.use_reranker else None
        self.readers: dict[str, CrossEncoder] = {}
        """Guides read by another reader than ``reranker`` (``cross_fit_readers``)."""
        self.half_readers: dict[int, Path] = {}
        """The files of the two half readers read with (set by ``cross_fit_readers`` or ``kept_readers``)."""
        self.indexes = {}
        self.sources: dict[str, dict[str, str]] = {}
        usable = []
        for gs in sets:
            s = guide_index_settings(gs, cache, settings)
            try:
                index = self.indexes[gs.name] = ensure_index(s, self.embedder)
            except CoachError as exc:  # one unusable guide does not abort a run over many
                log(f"skipped {gs.name}: {exc.message}")
                continue
            self.sources[gs.name] = {g.source: read_source(s.corpus_dir, g.source) for g in index.manifest.guides}
            usable.append(gs)
        self.sets = usable

    def reader(self, name: str) -> CrossEncoder | None:
        return self.readers.get(name, self.reranker) if self.reranker is not None else None

    def coach(self, name: str, model: AnswerModel) -> Coach:
        return Coach(self.indexes[name], self.embedder, self.reader(name), model)

    def collect(self) -> list[TurnData]:
        """Every guide's labelled turns (``coach.collect.collect``), each guide's kept in the cache folder
        under a digest of what made them (``collected_key``) and reused while that is unchanged."""
        turns: list[TurnData] = []
        boot = bootstrap_model()
        code = code_digest()
        for gs in self.sets:
            kept = self.cache / "collected" / f"{gs.name}-{collected_key(gs, code, self.reranker, self.embedder)}.pkl"
            got = read_collected(kept)
            if got is None:
                got = collect(gs, self.coach(gs.name, boot))
                write_collected(kept, got)
                self.log(f"collected {len(got)} turns from {gs.name}")
            else:
                self.log(f"collected {len(got)} turns from {gs.name} (kept in {kept.parent})")
            turns += got
        return turns

    def run_baseline(self, gs: GuideSet) -> list[BatchResult]:
        """The tutorial pipeline (``coach/baseline.py``) on the guide's conversations."""
        tutorial = TutorialCoach(self.sources[gs.name], self.embedder)
        return [BatchResult(id=c.id, answers=[tutorial.ask(t.q) for t in c.turns]) for c in gs.conversations()]

    def run(self, gs: GuideSet, model: AnswerModel) -> tuple[list[Conversation], list[BatchResult]]:
        coach = self.coach(gs.name, model)
        convs = gs.conversations()
        reader = self.reader(gs.name)
        if reader is not None:
            reader.remember = False
        try:
            return convs, [run_conversation(coach, c) for c in convs]
        finally:
            if reader is not None:
                reader.remember = True


NOT_COLLECTING = frozenset(
    {"auditcli", "audit", "auditrecords", "auditschema", "baseline", "bench", "cli", "experiment", "export"}
    | {"review", "staffauth", "synth", "train", "__main__"}
)
"""Modules of the coach package a collection never runs (commands, the audit log, the tutorial
baseline, the fit: ``coach.collect`` imports nothing of ``coach.train``)."""


def code_digest() -> str:
    """A digest of the source of the coach package's modules a collection runs (every one but
    ``NOT_COLLECTING``): a collection made by other code is collected again."""
    import hashlib

    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        if path.stem in NOT_COLLECTING:
            continue
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def collected_key(gs: GuideSet, code: str, reranker: CrossEncoder | None, embedder: SentenceTransformerEmbedder) -> str:
    """What a guide's collected turns depend on: its guide and question files, the code, the
    embedder and the cross-encoder as installed (collection reads with no tuned reader)."""
    import hashlib

    from coach.reader import graph_sha256

    h = hashlib.sha256(code.encode())
    for path in [gs.guide, *gs.questions]:
        h.update(path.read_bytes() + b"\0")
    h.update(embedder.model_id.encode() + b"\0")
    h.update(
        (graph_sha256(Path(reranker.model_dir)) if reranker is not None and reranker.available else "none").encode()
    )
    return h.hexdigest()[:16]


def read_collected(path: Path) -> list[TurnData] | None:
    """Turns kept by ``write_collected`` (None when absent or unreadable: they are collected again)."""
    import pickle

    try:
        with path.open("rb") as f:
            return pickle.load(f)  # noqa: S301 - a cache this command wrote, under its own digest
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, ValueError):
        return None


def write_collected(path: Path, turns: list[TurnData]) -> None:
    import pickle

    path.parent.mkdir(parents=True, exist_ok=True)
    guide = path.name.rsplit("-", 1)[0]
    for old in path.parent.glob("*.pkl"):  # the same guide collected by older code
        if old.name.rsplit("-", 1)[0] == guide:
            old.unlink(missing_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        pickle.dump(turns, f, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)


READER_HALVES = 2
"""The tuned reader is fitted on one half of the guides and reads the other (``cross_fit_readers``)."""


def reader_texts(wb: Workbench) -> dict[str, dict[str, str]]:
    """Per guide, each unit's text -> what the cross-encoder reads for it (``chunk.unit_context``)."""
    from coach.chunk import unit_context

    read: dict[str, dict[str, str]] = {}
    for name, ix in wb.indexes.items():
        d = read[name] = {}
        for p in ix.passages:
            for u in p.units:
                d.setdefault(u.text, unit_context(p, u))
    return read


def reader_questions(
    wb: Workbench, turns: list[TurnData]
) -> dict[str, list[tuple[str, list[str], np.ndarray, np.ndarray]]]:
    """Per guide, its labelled turns as the reader sees them: the query, the text read for each
    candidate, which are right, and the installed reader's logits. An in-scope turn is kept when a
    candidate is right; an out-of-scope one has no right candidate (``reader.unanswered_groups``)."""
    from coach.features import CANDIDATE_FEATURES

    logit = CANDIDATE_FEATURES.index("logit")
    read = reader_texts(wb)
    out: dict[str, list] = {}
    for t in turns:
        if not t.reranked or not len(t.rows) or (not t.abstain and not t.labels.any()):
            continue
        texts = [read[t.guide].get(x, x) for x in t.texts]
        out.setdefault(t.guide, []).append((t.query, texts, t.labels, t.rows[:, logit]))
    return out


def reader_guides(questions: dict[str, list]) -> list[str]:
    """The guides (sorted) a reader can be tuned on: those with an in-scope question whose right
    unit is among the candidates (a guide with out-of-scope questions only teaches nothing alone)."""
    return sorted(g for g, asked in questions.items() if any(labels.any() for _, _, labels, _ in asked))


def tune_reader(
    wb: Workbench,
    questions: dict[str, list],
    names: list[str],
    label: str,
    unanswered: bool = True,
    rank: int | None = None,
) -> Path:
    """The reader tuned on the ``questions`` (``reader_questions``) of the guides ``names``, kept in
    the cache folder as ``label``-digest of what it was tuned on and how (reused when the same).
    Its file names the guides whose questions it read (those of ``names`` that have any), which the
    digest of those questions covers. With ``unanswered`` (the recipe since stop 46), it also reads
    their out-of-scope questions, against "none of these" (``reader.tune_adapter``): a new guide's
    out-of-scope question then gets lower logits, which the abstention model reads. ``rank`` sets the
    side paths' rank (``reader.RANK`` when None; stop 58 measured 32 against 8: no better)."""
    import hashlib
    import json

    from coach import reader

    usable = set(reader_guides(questions))
    names = [g for g in names if g in usable]
    asked = [q for g in names for q in questions[g]]
    groups = reader.training_groups(asked)
    none = reader.unanswered_groups([(q, x, lg) for q, x, lab, lg in asked if not lab.any()]) if unanswered else []
    if not groups:
        raise CoachError("No labelled questions to tune the reader on.", "Add labelled guides (--sets eval/sets.json).")
    graph = reader.graph_sha256(Path(wb.reranker.model_dir))
    rank = rank or reader.RANK
    how = [graph, rank, reader.ALPHA, reader.LEARNING_RATE, reader.TRAIN_TOKENS, groups]
    if none:
        how += [reader.NONE_LOGIT, none]
    digest = hashlib.sha256(json.dumps(how).encode()).hexdigest()[:16]
    out = wb.cache / "readers" / f"{label}-{digest}.safetensors"
    if out.is_file():
        wb.log(f"tuned reader {label} ({len(names)} guides) reused from {out}")
        return out
    wb.log(f"tuning reader {label}: {len(names)} guides, {len(groups)} questions, {len(none)} unanswered")
    tmp = out.with_name(out.name + ".tmp")
    meta = {"guides": ",".join(names)}
    reader.tune_adapter(Path(wb.reranker.model_dir), groups, tmp, meta, wb.log, rank=rank, unanswered=none)
    tmp.replace(out)
    return out


def require_reranker(reranker: CrossEncoder | None) -> None:
    """Tuning a reader needs the installed cross-encoder: one clear error when it is off or missing."""
    if reranker is None or not reranker.available:
        raise CoachError(
            "Tuning the reader needs the cross-encoder, which is switched off or not installed.",
            "Unset COACH_RERANKER and install the requirements (make install), or pass --reader installed.",
        )


def cross_fit_readers(wb: Workbench, questions: dict[str, list]) -> dict[int, Path]:
    """Tune a reader on each half of the guides' ``questions`` (``reader_questions``; ``fold_of``
    their sorted names, two groups) and have each guide read by the one tuned on the other half: no
    guide is read by a reader that saw its labels."""
    require_reranker(wb.reranker)
    names = reader_guides(questions)
    group = fold_of(names, READER_HALVES)
    files = {
        h: tune_reader(wb, questions, [g for g in names if group[g] == h], f"half{h}") for h in range(READER_HALVES)
    }
    wb.half_readers = files
    readers = {h: MemoTunedCrossEncoder(wb.reranker.model_dir, f) for h, f in files.items()}
    # A guide outside the split (no in-scope question to tune on) was read by neither half.
    wb.readers = {gs.name: readers[(group.get(gs.name, -1) + 1) % READER_HALVES] for gs in wb.sets}
    return files


def tuned_on(path: Path) -> list[str]:
    """The guides a tuned reader file names as tuned on (its metadata; the tensors are not read)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        return [g for g in (f.metadata() or {}).get("guides", "").split(",") if g]


HALF_READERS = Path(__file__).resolve().parents[1] / "eval" / "readers"
"""Where the repository keeps the half readers of the shipped reader (``cross_fit_readers``' two,
about 1.6 MB each): a fresh clone's cache is empty, and without them ``--reader kept`` first tunes
both halves again (about 50 minutes on 2 cores)."""


def kept_reader(cache: Path, label: str, names: list[str]) -> Path | None:
    """The reader ``label`` tuned on exactly the guides ``names``: the one ``HALF_READERS`` keeps,
    else the latest tuned of those in the cache folder; None when neither has one (an unreadable
    file is passed over)."""
    from safetensors import SafetensorError

    for folder in (HALF_READERS, cache / "readers"):
        found = []
        for path in folder.glob(f"{label}-*.safetensors"):
            try:
                if tuned_on(path) == names:
                    found.append(path)
            except (OSError, ValueError, SafetensorError):
                continue
        if found:
            return max(found, key=lambda p: p.stat().st_mtime)
    return None


def copy_whole(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` through a temporary file beside it: ``dst`` is whole or untouched,
    and a copy cut short leaves no temporary file behind."""
    import shutil

    tmp = dst.with_name(dst.name + ".tmp")
    try:
        shutil.copyfile(src, tmp)
        tmp.replace(dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def keep_half_readers(files: dict[int, Path], folder: Path) -> None:
    """Copy the half readers ``files`` (``Workbench.half_readers``) into ``folder`` (``HALF_READERS``
    for the shipped model), then remove the halves kept there before; each copy lands whole or not
    at all."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in files.values():
        target = folder / path.name
        if not (target.exists() and target.samefile(path)):
            copy_whole(path, target)
    keep = {path.name for path in files.values()}
    for old in folder.glob("half*.safetensors"):
        if old.name not in keep:
            old.unlink()


def kept_readers(wb: Workbench, questions: dict[str, list], shipped: Path) -> None:
    """Have each guide read by a reader that never saw its labels, tuning none that is kept: a guide
    the reader ``shipped`` was tuned on, by the half reader of ``cross_fit_readers``' split of those
    guides that was not tuned on it (``kept_reader``; tuned now when neither ``HALF_READERS`` nor
    the cache has it), and every
    other guide, as a new guide is read, by ``shipped`` itself."""
    require_reranker(wb.reranker)
    seen = sorted(tuned_on(shipped))
    group = fold_of(seen, READER_HALVES)
    readers = {}
    wb.half_readers = {}
    for h in range(READER_HALVES):
        names = [g for g in seen if group[g] == h]
        found = kept_reader(wb.cache, f"half{h}", names)
        if found is not None:
            wb.log(f"half reader {h} ({len(names)} guides) kept: {found}")
        wb.half_readers[h] = found or tune_reader(wb, questions, names, f"half{h}")
        readers[h] = MemoTunedCrossEncoder(wb.reranker.model_dir, wb.half_readers[h])
    new = MemoTunedCrossEncoder(wb.reranker.model_dir, shipped)
    wb.readers = {gs.name: readers[(group[gs.name] + 1) % READER_HALVES] if gs.name in group else new for gs in wb.sets}
    wb.log(f"{sum(gs.name not in group for gs in wb.sets)} guides the kept reader was not tuned on are read by it")


RESCORED = 12
"""Candidates of a collected turn the tuned reader reads (``rescored``): the logistic first stage's
best 12, twice the pool, so that the logistic first stage of every fold finds its pool among them
(over the 78 guides, held out one by one or in 11 groups: all 31,224 pool places read). Another first stage does
not: boosted trees pooled 1,973 unread candidates, whose made-up logits flatter a replay (stop 47,
CHANGELOG); replaying one needs those read first."""


def rescored(wb: Workbench, turns: list[TurnData]) -> list[TurnData]:
    """``turns`` (collected with the installed reader) with their ``logit`` column read by each guide's
    reader in ``wb.readers``: the ``RESCORED`` candidates the first stage fitted on all of them ranks
    best, and the right ones (whose logits the model keeps as its examples'); the rest, which no
    pool reads, score 1 below the lowest of those."""
    from coach.features import CANDIDATE_FEATURES, FIRST_STAGE
    from coach.train import examples_of, fit_linear, with_adapted, with_prior, with_votes

    made = examples_of(turns)
    seen, _ = with_adapted(turns)
    seen, _ = with_prior(with_votes(seen, made))
    useful = [t for t in seen if not t.abstain and t.labels.any()]
    first = fit_linear(
        np.vstack([t.rows for t in useful]), np.concatenate([t.labels for t in useful]), FIRST_STAGE, CANDIDATE_FEATURES
    )
    logit = CANDIDATE_FEATURES.index("logit")
    read = reader_texts(wb)
    out = []
    for n, (t, s) in enumerate(zip(turns, seen, strict=True)):
        reader = wb.readers.get(t.guide)
        if reader is None or not t.reranked or not len(t.rows):
            out.append(t)
            continue
        pick = np.argsort(-first.decision(s.rows, CANDIDATE_FEATURES), kind="stable")[:RESCORED]
        pick = np.union1d(pick, np.flatnonzero(t.labels)) if not t.abstain else pick
        scores = reader.score(t.query, [read[t.guide].get(t.texts[i], t.texts[i]) for i in pick])
        rows = t.rows.copy()
        rows[:, logit] = float(scores.min()) - 1.0
        rows[pick, logit] = scores
        out.append(t.model_copy(update={"rows": rows}))
        if n % 500 == 0:
            wb.log(f"read {n}/{len(turns)} turns with the tuned readers")
    return out


def train(
    wb: Workbench, tuned: bool = False, turns: list[TurnData] | None = None, kept: Path | None = None
) -> tuple[AnswerModel, Path | None]:
    """The answer model fitted on every guide of the workbench (on ``turns`` when a collection is
    given); with ``tuned``, fitted on turns read by the cross-fitted tuned readers (each guide by one
    that never saw its labels, as a new guide will be read), and the reader it ships with: one tuned
    on every guide's labels, the halves' recipe on twice their data. With ``kept`` (a tuned reader
    file), no reader is tuned: the model is refitted on turns read by ``kept_readers`` and ships
    with ``kept``. Either way the half readers read with are left in ``wb.half_readers``."""
    turns = turns if turns is not None else wb.collect()
    if kept is not None:
        kept_readers(wb, reader_questions(wb, turns), kept)
        return finish(fit_model(rescored(wb, turns), wb.log), wb.sets), kept
    if not tuned:
        return finish(fit_model(turns, wb.log), wb.sets), None
    questions = reader_questions(wb, turns)
    cross_fit_readers(wb, questions)
    model = finish(fit_model(rescored(wb, turns), wb.log), wb.sets)
    return model, tune_reader(wb, questions, reader_guides(questions), "all")


def fold_of(names: list[str], folds: int | None) -> dict[str, int]:
    """Each guide's group for ``--cv``: guide ``i`` in group ``i mod folds`` (one guide per group by default).

    ``coach eval`` numbers the guides the workbench could index, in the sets file's order.
    """
    if folds is not None and folds < 1:
        raise ValueError(f"folds must be at least 1, not {folds}")
    k = min(folds or len(names), len(names))
    return {name: i % k for i, name in enumerate(names)}


def write_trained(model: AnswerModel, tuned: Path | None, out: Path) -> None:
    """Write the model to ``out`` and the tuned reader it reads with (if any) beside it, as
    ``out``'s name with ``.reader.safetensors``, named in the model with its sha256 (without one, a
    reader file left there by an earlier model is removed)."""
    from coach.model import ReaderRef
    from coach.reader import file_sha256, read_adapter
    from coach.train import write_model

    beside = out.with_suffix(".reader.safetensors")
    if tuned is not None:
        if not beside.exists() or not beside.samefile(tuned):  # a kept reader may already be there
            copy_whole(tuned, beside)
        guides = read_adapter(beside)[1].get("guides", "")
        model = model.model_copy(
            update={"reader": ReaderRef(file=beside.name, sha256=file_sha256(beside), trained_on=guides.split(","))}
        )
    write_model(model, out)
    if tuned is None:
        beside.unlink(missing_ok=True)


def evaluate_sets(
    wb: Workbench,
    model: AnswerModel | None,
    cv: bool,
    folds: int | None = None,
    tuned: bool = False,
    kept: Path | None = None,
) -> tuple[list[GuideRun], GuideRun]:
    """Per-guide and pooled runs; with ``cv`` each guide is answered by a model fitted without it.

    With ``folds`` the guides are held out that many groups at a time (each
    model fitted without its whole group): fewer fits, and a stricter test.
    With ``cv`` and ``tuned`` every guide is read by a reader tuned without it (``cross_fit_readers``);
    with ``cv`` and ``kept`` (a tuned reader file) by the kept readers that never saw it
    (``kept_readers``, as ``coach train --reader kept`` reads them), no reader tuned.
    """
    turns = wb.collect() if cv else []
    if cv and kept is not None:
        kept_readers(wb, reader_questions(wb, turns), kept)
        turns = rescored(wb, turns)
    elif cv and tuned:
        cross_fit_readers(wb, reader_questions(wb, turns))
        turns = rescored(wb, turns)
    group = fold_of([gs.name for gs in wb.sets], folds)
    last = {k: max(i for i, gs in enumerate(wb.sets) if group[gs.name] == k) for k in set(group.values())}
    fitted: dict[int, AnswerModel] = {}  # a group's model, kept until its last guide has run
    runs: list[GuideRun] = []
    all_convs: list[Conversation] = []
    all_results: list[BatchResult] = []
    all_base: list[BatchResult] = []
    sources: dict[str, str] = {}
    for i, gs in enumerate(wb.sets):
        if cv:
            k = group[gs.name]
            if k not in fitted:
                fitted[k] = fit_model([t for t in turns if group[t.guide] != k])
            held_out = fitted.pop(k) if i == last[k] else fitted[k]
        else:
            held_out = model
        convs, results = wb.run(gs, held_out)
        src = wb.sources[gs.name]
        base = wb.run_baseline(gs)
        runs.append(
            GuideRun(
                name=gs.name, report=score(convs, results, src), baseline=score(convs, base, src),
                conversations=len(convs),
            )
        )  # fmt: skip
        all_base += base
        wb.log(f"{gs.name}: {runs[-1].report.single_hit:.3f} single-turn hit")
        all_convs += convs
        all_results += results
        sources.update(src)
    pooled = GuideRun(
        name="POOLED", report=score(all_convs, all_results, sources), baseline=score(all_convs, all_base, sources),
        conversations=len(all_convs),
    )  # fmt: skip
    return runs, pooled
