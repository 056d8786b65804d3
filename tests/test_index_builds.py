"""Index builds: one at a time, atomic, kept, incremental, cheap to check, and refreshed in the background."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from coach import corpus as corpus_module
from coach.builds import BUILDS, current_folder, current_id, kept_builds
from coach.chunk import chunk_guide, heading_text, unit_context
from coach.errors import CorpusError, IndexMissingError
from coach.index import build_index, build_path, load_index, read_manifest, stale_reasons
from coach.parse import parse_guide
from coach.records import Passage
from coach.retrieve import top_k
from coach.settings import Settings
from tests.conftest import FIXTURES, ROOT, FakeEmbedder

NEW_GUIDE = FIXTURES / "dental-hygienist.md"


class CountingEmbedder(FakeEmbedder):
    """The fake embedder, remembering every text it was asked to embed."""

    def __init__(self, delay: float = 0.0) -> None:
        self.texts: list[str] = []
        self.delay = delay

    def encode(self, texts, batch_size: int = 32, progress=None) -> np.ndarray:  # noqa: ANN001
        self.texts.extend(texts)
        if self.delay:
            time.sleep(self.delay)
        return super().encode(texts, batch_size, progress)


def texts_of(path: Path) -> set[str]:
    """Every text a build embeds for the guide at ``path``."""
    passages = chunk_guide(parse_guide(path.read_text(encoding="utf-8"), path.name))
    return (
        {p.embed_text for p in passages}
        | {unit_context(p, u) for p in passages for u in p.units}
        | {heading_text(p) for p in passages}
    )


@pytest.fixture
def two_guides(settings: Settings) -> Settings:
    """The corpus fixture without the dental guide (added by the tests that need it)."""
    (settings.corpus_dir / NEW_GUIDE.name).unlink()
    return settings


def _build_in_process(corpus: str, index: str) -> str:
    settings = Settings(corpus_dir=Path(corpus), index_dir=Path(index))
    manifest, _ = build_index(settings, FakeEmbedder(), if_stale=True)
    return manifest.id


# -- one build at a time --------------------------------------------------------


def test_four_processes_building_at_once_make_one_build(settings):
    with ProcessPoolExecutor(4, mp_context=get_context("spawn")) as pool:
        ids = list(pool.map(_build_in_process, [str(settings.corpus_dir)] * 4, [str(settings.index_dir)] * 4))
    assert len(set(ids)) == 1  # one build ran; the three others found it fresh
    assert [mid for mid, _ in kept_builds(settings.index_dir)] == ids[:1]
    index = load_index(settings, FakeEmbedder.model_id)
    assert index.manifest.id == ids[0] and len(index.passages) > 50
    assert not [p for p in (settings.index_dir / BUILDS).iterdir() if p.name.startswith(".")]


def test_four_threads_forcing_builds_all_succeed_one_after_another(settings):
    settings.keep_builds = 10
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: build_index(settings, FakeEmbedder())[0].id, range(4)))
    assert len(set(results)) == 4
    assert sorted(mid for mid, _ in kept_builds(settings.index_dir)) == sorted(results)
    assert load_index(settings, FakeEmbedder.model_id).manifest.id in results


def test_a_build_waiting_for_another_says_so(settings):
    from coach.builds import build_lock

    seen = []
    lock = build_lock(settings.index_dir)
    lock.acquire()
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(build_index, settings, FakeEmbedder(), lambda phase, d, t: seen.append(phase))
        time.sleep(0.5)
        assert seen == ["wait"] and not future.done()
        lock.release()
        future.result(timeout=60)
    assert seen[-1] == "save"


# -- a build that dies leaves the previous one serving ----------------------------------


@pytest.mark.parametrize("where", ["coach.index.make_faiss_index", "coach.index.publish", "coach.builds._fsync_tree"])
def test_a_build_failing_anywhere_leaves_the_previous_index_serving(settings, monkeypatch, where):
    first, _ = build_index(settings, FakeEmbedder())
    (settings.corpus_dir / "new.txt").write_text("New Guide\n\nSome text here.\n")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(where, boom)
    with pytest.raises(OSError, match="disk full"):
        build_index(settings, FakeEmbedder())
    assert load_index(settings, FakeEmbedder.model_id, check=False).manifest.id == first.id
    assert [p.name for p in (settings.index_dir / BUILDS).iterdir()] == [first.id]


KILL_SCRIPT = """
import sys, time
from pathlib import Path
from coach.index import build_index
from coach.settings import Settings
from tests.conftest import FakeEmbedder

class Slow(FakeEmbedder):
    def encode(self, texts, batch_size=32, progress=None):
        time.sleep(0.002 * len(texts))
        return super().encode(texts, batch_size, progress)

build_index(Settings(corpus_dir=Path(sys.argv[1]), index_dir=Path(sys.argv[2])), Slow())
"""


def test_builds_killed_at_random_moments_never_break_the_index(settings):
    first, _ = build_index(settings, FakeEmbedder())
    rng = np.random.default_rng(3)
    for n in range(4):
        (settings.corpus_dir / f"extra-{n}.txt").write_text(f"Extra Guide {n}\n\nLine {n} of extra text.\n")
        proc = subprocess.Popen(
            [sys.executable, "-c", KILL_SCRIPT, str(settings.corpus_dir), str(settings.index_dir)], cwd=ROOT
        )
        time.sleep(float(rng.uniform(1.0, 3.0)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        index = load_index(settings, FakeEmbedder.model_id, check=False)  # whichever build is current loads
        assert index.manifest.id in {mid for mid, _ in kept_builds(settings.index_dir)}
    manifest, _ = build_index(settings, FakeEmbedder(), if_stale=True)
    assert not stale_reasons(settings.index_dir, settings.corpus_dir, FakeEmbedder.model_id)
    assert not [p for p in (settings.index_dir / BUILDS).iterdir() if p.name.startswith(".")]
    assert load_index(settings, FakeEmbedder.model_id).manifest.id == manifest.id != first.id


def test_stray_folders_of_crashed_builds_are_removed(settings):
    build_index(settings, FakeEmbedder())
    stray = settings.index_dir / BUILDS / ".tmp-0123"
    (stray / "bm25").mkdir(parents=True)
    old_style = settings.index_dir.parent / f".{settings.index_dir.name}.building-4242"
    old_style.mkdir()
    half = settings.index_dir / BUILDS / "feedfacefeedface"
    half.mkdir()  # a build folder without a manifest
    build_index(settings, FakeEmbedder())
    assert not stray.exists() and not old_style.exists() and not half.exists()


def test_an_index_of_the_earlier_layout_serves_until_replaced(settings):
    manifest, _ = build_index(settings, FakeEmbedder())
    folder = current_folder(settings.index_dir)
    for child in folder.iterdir():
        shutil.move(str(child), settings.index_dir / child.name)
    shutil.rmtree(settings.index_dir / BUILDS)
    (settings.index_dir / "current").unlink()
    assert load_index(settings, FakeEmbedder.model_id).manifest.id == manifest.id
    assert build_path(settings.index_dir, manifest.id) == settings.index_dir
    (settings.corpus_dir / "new.txt").write_text("New Guide\n\nSome text here.\n")
    new, _ = build_index(settings, FakeEmbedder(), if_stale=True)
    assert not (settings.index_dir / "manifest.json").exists() and not (settings.index_dir / "bm25").exists()
    assert load_index(settings, FakeEmbedder.model_id).manifest.id == new.id
    # the old index is now a kept build: answers audited against it can still be checked
    assert build_path(settings.index_dir, manifest.id) == settings.index_dir / BUILDS / manifest.id
    old = load_index(settings, FakeEmbedder.model_id, check=False, build=manifest.id)
    assert old.manifest.id == manifest.id and old.manifest.passage_count == manifest.passage_count


# -- kept builds -------------------------------------------------------------------


def test_old_builds_are_pruned_to_the_newest_n(settings):
    settings.keep_builds = 3
    ids = [build_index(settings, FakeEmbedder())[0].id for _ in range(5)]
    assert [mid for mid, _ in kept_builds(settings.index_dir)] == ids[::-1][:3]
    assert current_id(settings.index_dir) == ids[-1]
    assert build_path(settings.index_dir, ids[0]) is None


def test_builds_older_than_the_age_limit_are_pruned_but_never_the_current_one(settings):
    first, _ = build_index(settings, FakeEmbedder())
    path = current_folder(settings.index_dir) / "manifest.json"
    data = json.loads(path.read_text())
    data["built_at"] = "2020-01-01T00:00:00.000+00:00"
    path.write_text(json.dumps(data))
    settings.keep_build_days = 30
    build_index(settings, FakeEmbedder())  # the 2020 build is now old and not current
    assert build_path(settings.index_dir, first.id) is None
    only, _ = build_index(settings, FakeEmbedder())
    assert current_id(settings.index_dir) == only.id


def test_build_path_finds_a_kept_build_with_its_passages(two_guides):
    settings = two_guides
    old, _ = build_index(settings, FakeEmbedder())
    shutil.copy(NEW_GUIDE, settings.corpus_dir)
    new, _ = build_index(settings, FakeEmbedder())
    folder = build_path(settings.index_dir, old.id)
    assert folder is not None and folder != build_path(settings.index_dir, new.id)
    with open(folder / "passages.jsonl", encoding="utf-8") as f:
        passages = [Passage.model_validate_json(line) for line in f]
    assert len(passages) == old.passage_count
    assert {p.source for p in passages} == {g.source for g in old.guides}
    assert read_manifest(settings.index_dir, old.id)[0] == old
    assert load_index(settings, FakeEmbedder.model_id, check=False, build=old.id).manifest.id == old.id
    for bad in ["../../etc", "", "x" * 16, new.id.upper()]:
        assert build_path(settings.index_dir, bad) is None


def test_no_index_is_a_clear_error_and_the_build_path_is_none(settings):
    with pytest.raises(IndexMissingError):
        read_manifest(settings.index_dir)
    assert build_path(settings.index_dir, "0123456789abcdef") is None


# -- incremental builds --------------------------------------------------------------


def test_adding_a_guide_embeds_only_its_new_texts(two_guides):
    settings = two_guides
    embedder = CountingEmbedder()
    first, _ = build_index(settings, embedder)
    assert len(embedder.texts) == len(set(embedder.texts)) > 300
    embedder.texts.clear()
    shutil.copy(NEW_GUIDE, settings.corpus_dir)
    second, _ = build_index(settings, embedder)
    assert embedder.texts and set(embedder.texts) <= texts_of(NEW_GUIDE)
    assert second.passage_count > first.passage_count
    fresh = load_index(settings, embedder.model_id)
    q = FakeEmbedder().encode(["How do dental hygienists clean teeth?"])[0]
    assert any(fresh.passages[i].source == NEW_GUIDE.name for i, _ in fresh.dense_search(q, 3))


def test_editing_and_removing_guides_reembed_only_new_text(settings):
    embedder = CountingEmbedder()
    build_index(settings, embedder)
    embedder.texts.clear()
    guide = settings.corpus_dir / "wind-turbine-technician.txt"
    guide.write_text(guide.read_text(encoding="utf-8") + "\nA brand new closing sentence about ladders.\n")
    build_index(settings, embedder)
    assert 0 < len(embedder.texts) <= 6  # the new sentence and the passage around it, not the guide
    assert any("ladders" in t for t in embedder.texts)
    embedder.texts.clear()
    (settings.corpus_dir / NEW_GUIDE.name).unlink()
    manifest, _ = build_index(settings, embedder)
    assert embedder.texts == [] and len(manifest.guides) == 2


def test_incremental_index_answers_like_a_full_one(settings, tmp_path):
    cached = Settings(corpus_dir=settings.corpus_dir, index_dir=tmp_path / "incremental")
    (settings.corpus_dir / NEW_GUIDE.name).rename(tmp_path / NEW_GUIDE.name)
    build_index(cached, FakeEmbedder())
    shutil.move(tmp_path / NEW_GUIDE.name, settings.corpus_dir / NEW_GUIDE.name)
    build_index(cached, FakeEmbedder())
    build_index(settings, FakeEmbedder())
    a, b = load_index(cached, FakeEmbedder.model_id), load_index(settings, FakeEmbedder.model_id)
    assert [p.id for p in a.passages] == [p.id for p in b.passages]
    assert np.array_equal(a.unit_vectors, b.unit_vectors) and np.array_equal(a.heading_vectors, b.heading_vectors)
    q = FakeEmbedder().encode(["tower climbing safety certificate"])[0]
    assert a.dense_search(q, 10) == b.dense_search(q, 10)


def test_a_killed_build_keeps_the_vectors_it_embedded(settings, monkeypatch):
    embedder = CountingEmbedder()
    monkeypatch.setattr("coach.index.EMBED_CHUNK", 100)
    monkeypatch.setattr("coach.index.make_faiss_index", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        build_index(settings, embedder)
    monkeypatch.undo()
    embedded = len(embedder.texts)
    embedder.texts.clear()
    build_index(settings, embedder)
    assert embedded > 300 and embedder.texts == []


# -- cheap change detection ------------------------------------------------------------


def test_an_unchanged_corpus_is_checked_without_hashing(settings, monkeypatch):
    for p in settings.corpus_dir.iterdir():  # not "racy": modified well before they were hashed
        os.utime(p, (time.time() - 3600, time.time() - 3600))
    build_index(settings, FakeEmbedder())
    corpus_module._memo.clear()
    calls = []
    real = corpus_module.hashlib.sha256
    monkeypatch.setattr(corpus_module, "hashlib", SimpleNamespace(sha256=lambda data: calls.append(1) or real(data)))
    assert stale_reasons(settings.index_dir, settings.corpus_dir, FakeEmbedder.model_id) == []
    assert calls == []
    guide = settings.corpus_dir / NEW_GUIDE.name
    guide.write_text(guide.read_text(encoding="utf-8") + "\nMore.\n")
    assert stale_reasons(settings.index_dir, settings.corpus_dir, FakeEmbedder.model_id) == [f"{guide.name} changed"]
    assert len(calls) == 1


def test_a_same_size_edit_in_the_same_second_is_still_seen(settings):
    build_index(settings, FakeEmbedder())
    guide = settings.corpus_dir / "wind-turbine-technician.txt"
    st = guide.stat()
    text = guide.read_text(encoding="utf-8")
    guide.write_text(text.replace("Wind", "Wand", 1), encoding="utf-8")
    os.utime(guide, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same mtime
    assert stale_reasons(settings.index_dir, settings.corpus_dir, FakeEmbedder.model_id) == [f"{guide.name} changed"]


# -- the app's background update ---------------------------------------------------------


def test_a_stale_index_keeps_serving_while_the_next_build_runs(settings):
    from coach.service import servable, update_in_background

    first, _ = build_index(settings, FakeEmbedder())
    assert update_in_background(settings, FakeEmbedder.model_id) is None  # up to date: nothing to do
    (settings.corpus_dir / "wind-copy-2.txt").write_text("Another Guide\n\nWith other text.\n")
    job = update_in_background(settings, FakeEmbedder.model_id, lambda: CountingEmbedder(delay=1.0))
    assert job is not None and job.running
    assert update_in_background(settings, FakeEmbedder.model_id) is job  # one job per index folder
    assert servable(settings, FakeEmbedder.model_id)
    assert load_index(settings, FakeEmbedder.model_id, check=False).manifest.id == first.id
    job.thread.join(60)
    assert job.phase == "done" and current_id(settings.index_dir) == job.manifest_id != first.id
    assert update_in_background(settings, FakeEmbedder.model_id) is None


def test_a_failed_background_build_is_not_retried_until_the_corpus_changes(settings, caplog):
    from coach.service import update_in_background

    build_index(settings, FakeEmbedder())
    for p in settings.corpus_dir.iterdir():
        p.write_text("")  # every guide emptied: the build fails with a corpus error
    job = update_in_background(settings, FakeEmbedder.model_id, FakeEmbedder)
    job.thread.join(60)
    assert job.phase == "failed" and "no usable guides" in job.error
    assert "Background index build" in caplog.text
    assert update_in_background(settings, FakeEmbedder.model_id, FakeEmbedder) is job
    (settings.corpus_dir / "fresh.txt").write_text("Fresh Guide\n\nNew text.\n")
    again = update_in_background(settings, FakeEmbedder.model_id, FakeEmbedder)
    assert again is not job
    again.thread.join(60)
    assert again.phase == "done"


def test_a_missing_corpus_still_fails_clearly(settings, tmp_path):
    settings.corpus_dir = tmp_path / "nope"
    with pytest.raises(CorpusError, match="does not exist"):
        build_index(settings, FakeEmbedder())


# -- per-question cost -------------------------------------------------------------------


def test_top_k_matches_a_full_sort_with_ties_by_position():
    rng = np.random.default_rng(1)
    for n in [1, 7, 40, 1000]:
        scores = rng.integers(0, 4, n).astype(np.float32)
        for k in [1, 5, 30, 2000]:
            expected = sorted(range(n), key=lambda i: (-scores[i], i))[:k]
            assert top_k(scores, k).tolist() == expected


def test_items_are_mapped_once_at_load(settings):
    build_index(settings, FakeEmbedder())
    index = load_index(settings, FakeEmbedder.model_id)
    for (source, parent), items in index.items.items():
        for item in items:
            first = index.item_start[(source, (*parent, item))]
            p = index.passages[first]
            assert p.source == source and p.section[:3] == [*parent, item]
            assert all(q.source != source or q.section[:3] != p.section[:3] for q in index.passages[:first])


# -- the app ---------------------------------------------------------------------------------


class SlowFakeST(FakeEmbedder):
    """Stands in for the real embedder in the app: same model id as the real model folder, fake vectors."""

    delay = 0.0

    def __init__(self, path: str) -> None:
        from coach.embed import model_fingerprint

        self.model_id = model_fingerprint(path)

    def encode(self, texts, batch_size: int = 32, progress=None) -> np.ndarray:  # noqa: ANN001
        if len(texts) > 1:
            time.sleep(self.delay)
        return super().encode(texts, batch_size, progress)


def test_the_app_keeps_answering_while_the_index_is_rebuilt(settings, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    import views.shared

    monkeypatch.setattr("coach.service.SentenceTransformerEmbedder", SlowFakeST)
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COACH_CORPUS", str(settings.corpus_dir))
    monkeypatch.setenv("COACH_INDEX", str(settings.index_dir))
    monkeypatch.setenv("COACH_AUDIT_DB", str(tmp_path / "audit.sqlite3"))
    monkeypatch.setenv("COACH_RERANKER", "0")
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.run()  # no index yet: built in the request
        assert not at.exception
        first = current_id(settings.index_dir)
        assert first is not None
        (settings.corpus_dir / "new.txt").write_text("New Guide\n\nSome new text about night shifts.\n")
        SlowFakeST.delay = 0.5
        at.run()  # stale: served at once, rebuilt in the background
        assert not at.exception
        assert any("Updating the guide index" in c.value for c in at.caption)
        assert current_id(settings.index_dir) == first
        at.chat_input[0].set_value("What does this job pay?").run()
        assert not at.exception and at.chat_message
        deadline = time.time() + 60
        while current_id(settings.index_dir) == first and time.time() < deadline:
            time.sleep(0.2)
        assert current_id(settings.index_dir) != first
        at.run()
        assert not at.exception
        assert not any("Updating the guide index" in c.value for c in at.caption)
    finally:
        SlowFakeST.delay = 0.0
        views.shared._models.clear()
        views.shared._coach.clear()
