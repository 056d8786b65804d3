"""Shared fixtures: temp data paths, a fake embedder, and one real model per session."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from coach import lexical
from coach.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SEED = ROOT / "corpus" / "health-information-systems-technician.txt"


class FakeEmbedder:
    """Deterministic bag-of-stems hashing embedder: no model, same text -> same vector."""

    model_id = "fake/hashing@1"
    dimension = 64

    def encode(self, texts, batch_size: int = 32, progress=None) -> np.ndarray:  # noqa: ANN001
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for tok in lexical.tokens(text) or ["_empty"]:
                h = int(hashlib.md5(tok.encode()).hexdigest(), 16)
                out[row, h % self.dimension] += 1.0 if (h >> 8) % 2 else -1.0
            norm = np.linalg.norm(out[row]) or 1.0
            out[row] /= norm
            if progress is not None:
                progress(row + 1, len(texts))
        return out


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A corpus folder with the seed guide and the two fixture guides."""
    d = tmp_path / "corpus"
    d.mkdir()
    shutil.copy(SEED, d / SEED.name)
    shutil.copy(FIXTURES / "wind-turbine-technician.txt", d)
    shutil.copy(FIXTURES / "dental-hygienist.md", d)
    return d


@pytest.fixture
def settings(tmp_path: Path, corpus: Path) -> Settings:
    return Settings(corpus_dir=corpus, index_dir=tmp_path / "index", audit_db=tmp_path / "audit.sqlite3")


@pytest.fixture(scope="session")
def real_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for the seed guide alone, with an index built once by the real model."""
    base = tmp_path_factory.mktemp("real")
    corpus = base / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    return Settings(corpus_dir=corpus, index_dir=base / "index", audit_db=base / "audit.sqlite3")


@pytest.fixture(scope="session")
def real_coach(real_settings: Settings):  # noqa: ANN201
    """One real embedder + reranker + index for all end-to-end tests."""
    from coach.service import open_coach

    return open_coach(real_settings)
