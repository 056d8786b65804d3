"""Wiring: settings -> embedder, index (built when missing or stale), reranker -> Coach.

Front ends (CLI, Streamlit app, benchmarks) call :func:`open_coach` and never
assemble the pipeline themselves.
"""

from __future__ import annotations

from collections.abc import Callable

from coach.answer import Coach
from coach.embed import SentenceTransformerEmbedder
from coach.errors import CorruptIndexError, IndexMissingError, StaleIndexError
from coach.index import Index, build_index, load_index, stale_reasons
from coach.rerank import CrossEncoder
from coach.settings import Settings

Progress = Callable[[str, int, int], None]


def index_status(settings: Settings, model_id: str) -> str:
    """``ok``, ``missing`` or ``stale: <reasons>`` without loading the index."""
    try:
        reasons = stale_reasons(settings.index_dir, settings.corpus_dir, model_id)
    except IndexMissingError:
        return "missing"
    except (StaleIndexError, CorruptIndexError) as exc:
        return f"stale: {exc.message}"
    return "ok" if not reasons else "stale: " + "; ".join(reasons)


def ensure_index(
    settings: Settings, embedder: SentenceTransformerEmbedder, progress: Progress | None = None, rebuild: bool = True
) -> Index:
    """Load the index, building it first when it is missing or stale (if ``rebuild``)."""
    status = index_status(settings, embedder.model_id)
    if status != "ok":
        if not rebuild:
            return load_index(settings, embedder.model_id)  # raises the precise error
        build_index(settings, embedder, progress or (lambda *_: None))
    return load_index(settings, embedder.model_id)


def open_coach(settings: Settings, progress: Progress | None = None, rebuild: bool = True) -> Coach:
    """A ready :class:`Coach` for ``settings`` (index built if needed, models warmed up)."""
    embedder = SentenceTransformerEmbedder(settings.model_path)
    index = ensure_index(settings, embedder, progress, rebuild)
    reranker = CrossEncoder(settings.reranker_dir) if settings.use_reranker else None
    if reranker is not None and reranker.available:
        reranker.warm_up()
    embedder.encode(["warm up"])
    return Coach(index, embedder, reranker)
