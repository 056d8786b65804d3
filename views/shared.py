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


LINK_RE = re.compile(r"\[([^\[\]\n]*[^\s\[\]][^\[\]\n]*)\]\((https?://(?:[^\s()<>\\]|\([^\s()<>\\]*\))+)\)")
"""A Markdown guide's inline link to a web page: ``[label](https://...)``, a visible label,
an address without spaces, brackets or backslashes (one level of parentheses allowed)."""


def safe_quote(text: str) -> str:
    """A verbatim quote from a guide as Markdown: its web links read as links, the rest as text.

    A Markdown guide's sentence "give [this article](https://...) a read" would
    otherwise show its link syntax and address; nothing else is rendered.
    """
    text = " ".join(text.split())
    out, last = [], 0
    for m in LINK_RE.finditer(text):
        out += [MD_SPECIAL.sub(r"\\\1", text[last : m.start()]), f"[{safe(m.group(1))}]({m.group(2)})"]
        last = m.end()
    out.append(MD_SPECIAL.sub(r"\\\1", text[last:]))
    return "".join(out)


def settings() -> Settings:
    return Settings.from_env()


def audit_store(path: str) -> AuditStore:
    """The audit store: the shared database of COACH_AUDIT_URL when set, else the SQLite file at ``path``."""
    return _audit_store(Settings.from_env().audit_url or path)


@st.cache_resource(show_spinner=False)
def _audit_store(target: str) -> AuditStore:
    return AuditStore(target)


@st.cache_resource(show_spinner=False)
def _models(model: str, reranker_dir: str, rerank: bool):  # noqa: ANN202
    """The embedder and reranker, loaded once per process (they outlive index builds)."""
    from coach.service import open_models

    return open_models(Settings.from_env(model_path=model, reranker_dir=reranker_dir, use_reranker=rerank))


@st.cache_resource(show_spinner=False, max_entries=2)
def _coach(corpus: str, index: str, model: str, reranker_dir: str, rerank: bool, build: str):  # noqa: ANN202
    """The Coach of one build. Keyed by the build id, so a build made by the background
    thread or by ``python -m coach build-index`` is served from the next rerun on."""
    from coach.answer import Coach
    from coach.index import load_index

    embedder, reranker = _models(model, reranker_dir, rerank)
    cfg = Settings.from_env(corpus_dir=Path(corpus), index_dir=Path(index))
    return Coach(load_index(cfg, embedder.model_id, check=False, build=build), embedder, reranker)


def _build_now(cfg: Settings, status: str) -> None:
    """Build the index in this request, with visible progress: there is nothing to serve yet."""
    from coach.index import build_index
    from coach.service import PHASE_LABELS

    embedder, _ = _models(cfg.model_path, cfg.reranker_dir, cfg.use_reranker)
    with st.status("Preparing the career guide for questions…", expanded=True) as box:
        st.write("The search index is " + ("not built yet." if status == "missing" else "out of date; rebuilding it."))
        bar = st.progress(0.0, text=PHASE_LABELS["start"])

        def progress(phase: str, done: int, total: int) -> None:
            label = PHASE_LABELS.get(phase, phase)
            bar.progress(min(1.0, done / max(total, 1)), text=f"{label} ({done}/{total})" if total else label)

        build_index(cfg, embedder, progress, if_stale=True)
        box.update(label="The guide is ready.", state="complete", expanded=False)


@st.fragment(run_every=2)
def _update_note(job) -> None:  # noqa: ANN001 - a coach.service.BuildJob
    """A small note while the index is rebuilt in the background; switches to the new build when it is ready."""
    if job.phase == "done":
        st.rerun(scope="app")  # the next run finds the new build current and serves it
    if job.running:
        st.caption(f"Updating the guide index ({job.describe()}). Answers come from the current guide meanwhile.")


def coach():  # noqa: ANN201
    """The shared Coach for the current build.

    With no usable index (none yet, or one made with another model) it is
    built here with visible progress. When guides changed, the current build
    keeps serving while a background thread builds the next one.
    """
    from coach.embed import model_fingerprint
    from coach.index import read_manifest
    from coach.service import index_status, servable, update_in_background

    cfg = settings()
    model_id = model_fingerprint(cfg.model_path)
    if not servable(cfg, model_id):
        _build_now(cfg, index_status(cfg, model_id))
    else:
        job = update_in_background(cfg, model_id)
        if job is not None and job.running:
            _update_note(job)
    build = read_manifest(cfg.index_dir)[0].id
    with st.spinner("Loading the models…"):
        return _coach(
            str(cfg.corpus_dir), str(cfg.index_dir), cfg.model_path, cfg.reranker_dir, cfg.use_reranker, build
        )


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


def staff_secrets() -> dict[str, object]:
    """Streamlit secrets as a plain mapping ({} when there is no secrets file)."""
    try:
        return dict(st.secrets)
    except Exception:  # no secrets file at all
        return {}


def client_address() -> str:
    """Who is on the other end, for the staff login log: the proxy's X-Forwarded-For, else the peer address.

    Only recorded, never trusted: throttling counts sessions and the whole page, not addresses.
    """
    try:
        forwarded, peer = st.context.headers.get("X-Forwarded-For"), st.context.ip_address
    except Exception:  # no request context (bare runs)
        return ""
    if isinstance(forwarded, str) and forwarded.strip():
        return forwarded.split(",")[0].strip()[:100]
    return peer[:100] if isinstance(peer, str) else ""


@st.cache_resource(show_spinner=False)
def build_cache() -> dict:
    """Passages of kept index builds by manifest id, shared by every staff session (a kept build never changes)."""
    return {}
