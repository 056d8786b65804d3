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
from coach.rerank import CrossEncoder
from coach.service import ensure_index
from coach.settings import Settings
from coach.train import TurnData, bootstrap_model, collect, finish, fit_model

Log = Callable[[str], None]


class MemoCrossEncoder(CrossEncoder):
    """A cross-encoder that remembers pairs it scored (collection and held-out runs ask many twice)."""

    def __init__(self, model_dir: str) -> None:
        super().__init__(model_dir)
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
        self.reranker = MemoCrossEncoder(settings.reranker_dir) if settings.use_reranker else None
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

    def coach(self, name: str, model: AnswerModel) -> Coach:
        return Coach(self.indexes[name], self.embedder, self.reranker, model)

    def collect(self) -> list[TurnData]:
        turns: list[TurnData] = []
        boot = bootstrap_model()
        for gs in self.sets:
            got = collect(gs, self.coach(gs.name, boot))
            self.log(f"collected {len(got)} turns from {gs.name}")
            turns += got
        return turns

    def run_baseline(self, gs: GuideSet) -> list[BatchResult]:
        """The tutorial pipeline (``coach/baseline.py``) on the guide's conversations."""
        tutorial = TutorialCoach(self.sources[gs.name], self.embedder)
        return [BatchResult(id=c.id, answers=[tutorial.ask(t.q) for t in c.turns]) for c in gs.conversations()]

    def run(self, gs: GuideSet, model: AnswerModel) -> tuple[list[Conversation], list[BatchResult]]:
        coach = self.coach(gs.name, model)
        convs = gs.conversations()
        if self.reranker is not None:
            self.reranker.remember = False
        try:
            return convs, [run_conversation(coach, c) for c in convs]
        finally:
            if self.reranker is not None:
                self.reranker.remember = True


def train(wb: Workbench) -> AnswerModel:
    """The answer model fitted on every guide of the workbench."""
    turns = wb.collect()
    return finish(fit_model(turns, wb.log), wb.sets)


def fold_of(names: list[str], folds: int | None) -> dict[str, int]:
    """Each guide's group for ``--cv``: guide ``i`` in group ``i mod folds`` (one guide per group by default).

    ``coach eval`` numbers the guides the workbench could index, in the sets file's order.
    """
    if folds is not None and folds < 1:
        raise ValueError(f"folds must be at least 1, not {folds}")
    k = min(folds or len(names), len(names))
    return {name: i % k for i, name in enumerate(names)}


def evaluate_sets(
    wb: Workbench, model: AnswerModel | None, cv: bool, folds: int | None = None
) -> tuple[list[GuideRun], GuideRun]:
    """Per-guide and pooled runs; with ``cv`` each guide is answered by a model fitted without it.

    With ``folds`` the guides are held out that many groups at a time (each
    model fitted without its whole group): fewer fits, and a stricter test.
    """
    turns = wb.collect() if cv else []
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
