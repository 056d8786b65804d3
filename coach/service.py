"""Wiring: settings -> embedder, index (built when missing or stale), reranker -> Coach.

Front ends (CLI, Streamlit app, benchmarks) call :func:`open_coach` and never
assemble the pipeline themselves. A long-running front end (the app) instead
serves the current build and refreshes it with :func:`update_in_background`,
so nobody waits for a build while an index exists.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from coach.answer import Coach
from coach.embed import SentenceTransformerEmbedder
from coach.errors import CoachError, CorruptIndexError, IndexMissingError, StaleIndexError
from coach.index import Index, build_index, load_index, read_manifest, stale_reasons
from coach.late import LateReader
from coach.model import AnswerModel, load_model
from coach.reader import tuned_reader
from coach.rerank import CrossEncoder
from coach.settings import Settings

Progress = Callable[[str, int, int], None]
log = logging.getLogger(__name__)


PHASE_LABELS = {
    "start": "Starting",
    "wait": "Waiting for another build of the index to finish",
    "parse": "Reading guides",
    "embed": "Embedding new passages",
    "save": "Saving",
    "done": "Ready",
    "failed": "Could not update",
}
"""What each phase of an index build (see ``build_index``'s progress) is called on screen."""


def index_status(settings: Settings, model_id: str) -> str:
    """``ok``, ``missing`` or ``stale: <reasons>`` without loading the index (cheap: no hashing when unchanged)."""
    try:
        reasons = stale_reasons(settings.index_dir, settings.corpus_dir, model_id)
    except IndexMissingError:
        return "missing"
    except (StaleIndexError, CorruptIndexError) as exc:
        return f"stale: {exc.message}"
    return "ok" if not reasons else "stale: " + "; ".join(reasons)


def servable(settings: Settings, model_id: str) -> bool:
    """True when the current build can answer this model's questions (even if guides changed since)."""
    try:
        manifest, _ = read_manifest(settings.index_dir)
    except CoachError:
        return False
    return manifest.model == model_id


def ensure_index(
    settings: Settings, embedder: SentenceTransformerEmbedder, progress: Progress | None = None, rebuild: bool = True
) -> Index:
    """Load the index, building it first when it is missing or stale (if ``rebuild``)."""
    status = index_status(settings, embedder.model_id)
    if status != "ok":
        if not rebuild:
            return load_index(settings, embedder.model_id)  # raises the precise error
        build_index(settings, embedder, progress or (lambda *_: None), if_stale=True)
    return load_index(settings, embedder.model_id)


def open_models(
    settings: Settings, model: AnswerModel | None = None
) -> tuple[SentenceTransformerEmbedder, CrossEncoder | None]:
    """The embedder and (if enabled and installed) the reranker ``model`` (default: the shipped
    answer model) was fitted with, loaded and warmed up."""
    embedder = SentenceTransformerEmbedder(settings.model_path)
    reranker = CrossEncoder(settings.reranker_dir) if settings.use_reranker else None
    model = model or load_model()
    if reranker is not None and reranker.available and model.reader is not None:
        reranker = tuned_reader(reranker, model.reader_file(), model.reader.sha256)
    if reranker is not None and reranker.available:
        reranker.warm_up()
        late = LateReader.beside(reranker.model_dir)  # the one every Coach of this process reads with
        if late.available:
            late.query("warm up")
    embedder.encode(["warm up"])
    return embedder, reranker


def open_coach(settings: Settings, progress: Progress | None = None, rebuild: bool = True) -> Coach:
    """A ready :class:`Coach` for ``settings`` (index built if needed, models warmed up)."""
    embedder, reranker = open_models(settings)
    index = ensure_index(settings, embedder, progress, rebuild)
    coach = Coach(index, embedder, reranker)
    coach.elsewhere()  # the model's labelled questions ready now, not at the first question
    return coach


@dataclass
class BuildJob:
    """A build running in a background thread: what a front end shows while it serves the old index."""

    settings: Settings
    phase: str = "start"
    """``start``, ``wait`` (for another build's lock), ``parse``, ``embed``, ``save``, ``done`` or ``failed``."""
    done: int = 0
    total: int = 0
    started: float = field(default_factory=time.monotonic)
    phase_started: float = field(default_factory=time.monotonic)
    error: str = ""
    manifest_id: str = ""
    thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def progress(self, phase: str, done: int, total: int) -> None:
        if phase != self.phase:
            self.phase, self.phase_started = phase, time.monotonic()
        self.done, self.total = done, total

    def eta_seconds(self) -> float | None:
        """Seconds left in the current phase at its rate so far (None until there is a rate)."""
        elapsed = time.monotonic() - self.phase_started
        if self.done <= 0 or self.total <= self.done or elapsed <= 0:
            return None
        return (self.total - self.done) * elapsed / self.done

    def describe(self) -> str:
        """One line for a progress note: ``Embedding new passages 120/460, about 40 s left``."""
        label = PHASE_LABELS.get(self.phase, self.phase)
        text = f"{label} {self.done}/{self.total}" if self.total and self.phase in {"parse", "embed"} else label
        eta = self.eta_seconds()
        return f"{text}, about {eta:.0f} s left" if eta is not None and eta >= 1 else text

    def _run(self, embedder_factory: Callable[[], SentenceTransformerEmbedder]) -> None:
        try:
            manifest, _ = build_index(self.settings, embedder_factory(), self.progress, if_stale=True)
            self.manifest_id = manifest.id
            self.phase = "done"
        except Exception as exc:  # a background failure must not kill the serving process
            self.phase, self.error = "failed", str(exc)
            log.exception("Background index build for %s failed", self.settings.index_dir)


_jobs: dict[str, tuple[BuildJob, str]] = {}
_jobs_lock = threading.Lock()


def update_in_background(
    settings: Settings,
    model_id: str,
    embedder_factory: Callable[[], SentenceTransformerEmbedder] | None = None,
) -> BuildJob | None:
    """Start (or report) the background rebuild of a stale index; None when it is up to date.

    One job per index folder in this process; across processes the build lock
    lets one build run and the others find the index fresh. A job that failed
    is not retried until the corpus or model changes again (its reason is
    logged for the operator).
    """
    status = index_status(settings, model_id)
    key = str(settings.index_dir.resolve())
    with _jobs_lock:
        job, for_status = _jobs.get(key, (None, ""))
        if status == "ok":
            return job if job is not None and job.running else None
        if job is not None and (job.running or (job.phase == "failed" and for_status == status)):
            return job
        job = BuildJob(settings=settings)
        factory = embedder_factory or (lambda: SentenceTransformerEmbedder(settings.model_path))
        job.thread = threading.Thread(target=job._run, args=(factory,), name="coach-index-build", daemon=True)
        _jobs[key] = (job, status)
        job.thread.start()
        return job
