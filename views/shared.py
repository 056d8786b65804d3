"""Streamlit-side helpers shared by the pages: cached resources and safe rendering."""

from __future__ import annotations

import re
from pathlib import Path

import streamlit as st

from coach.audit import AuditStore
from coach.records import Answer
from coach.settings import Settings

MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def safe(text: str) -> str:
    """User or guide text as literal Markdown: nothing is rendered as markup or HTML."""
    return MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def settings() -> Settings:
    return Settings.from_env()


@st.cache_resource(show_spinner=False)
def audit_store(path: str) -> AuditStore:
    return AuditStore(Path(path))


@st.cache_resource(show_spinner=False)
def _coach(corpus: str, index: str, model: str, rerank: bool):  # noqa: ANN202
    from coach.service import open_coach

    cfg = Settings.from_env(corpus_dir=Path(corpus), index_dir=Path(index))
    return open_coach(cfg, rebuild=False)


def coach():  # noqa: ANN201
    """The shared Coach; builds a missing or stale index first, with visible progress."""
    from coach.embed import SentenceTransformerEmbedder
    from coach.index import build_index
    from coach.service import index_status

    cfg = settings()
    key = (str(cfg.corpus_dir), str(cfg.index_dir), cfg.model_path, cfg.use_reranker)
    status = index_status(cfg, SentenceTransformerEmbedder(cfg.model_path).model_id)
    if status != "ok":
        _coach.clear()
        with st.status("Preparing the career guide for questions…", expanded=True) as box:
            st.write(
                "The search index is " + ("not built yet." if status == "missing" else "out of date; rebuilding it.")
            )
            bar = st.progress(0.0, text="Reading guides")

            def progress(phase: str, done: int, total: int) -> None:
                label = {"parse": "Reading guides", "embed": "Embedding passages", "save": "Saving"}[phase]
                bar.progress(min(1.0, done / max(total, 1)), text=f"{label} ({done}/{total})")

            build_index(cfg, SentenceTransformerEmbedder(cfg.model_path), progress)
            box.update(label="The guide is ready.", state="complete", expanded=False)
    with st.spinner("Loading the models…"):
        return _coach(*key)


def citation_view(answer: Answer, marker: int) -> None:
    """The cited passage with the quoted sentences highlighted; table rows as a table."""
    c = next(c for c in answer.citations if c.marker == marker)
    st.caption(
        f"{safe(c.title)} › {safe(' › '.join(c.section[1:]) or c.title)}  ·  {safe(c.source)} [{c.char_start}–{c.char_end}]"
    )
    quoted = sorted((s for s in answer.sentences if s.citation == marker), key=lambda s: s.char_start)
    parts, pos = [], c.char_start
    for s in quoted:
        parts.append(safe(c.text[pos - c.char_start : s.char_start - c.char_start]))
        parts.append(f":orange-background[**{safe(s.text)}**]")
        pos = s.char_end
    parts.append(safe(c.text[pos - c.char_start :]))
    st.markdown(" ".join(p for p in parts if p))
    for s in quoted:
        if s.kind == "table_row" and s.columns and s.cells:
            st.table({col: [cell] for col, cell in zip(s.columns, s.cells, strict=False)})
