"""Passages, the index on disk, staleness and the atomic build."""

from __future__ import annotations

import json
import shutil

import pytest

from coach.builds import current_folder
from coach.chunk import chunk_guide
from coach.errors import CorpusError, CorruptIndexError, IndexMissingError, StaleIndexError
from coach.index import build_index, load_index, stale_reasons
from coach.parse import parse_guide
from tests.conftest import FIXTURES, SEED

GUIDES = [SEED, FIXTURES / "wind-turbine-technician.txt", FIXTURES / "dental-hygienist.md"]


def passages_of(path):
    text = path.read_text(encoding="utf-8")
    return text, chunk_guide(parse_guide(text, path.name))


@pytest.mark.parametrize("path", GUIDES, ids=lambda p: p.name)
def test_offset_invariant_and_bounds(path):
    text, passages = passages_of(path)
    assert passages
    for p in passages:
        assert text[p.char_start : p.char_end] == p.text
        assert len(p.text.split()) <= 180
        for u in p.units:
            assert text[u.char_start : u.char_end] == u.text
            assert p.char_start <= u.char_start and u.char_end <= p.char_end


def test_ids_are_stable_and_unique():
    _, a = passages_of(SEED)
    _, b = passages_of(SEED)
    assert [p.id for p in a] == [p.id for p in b]
    assert len({p.id for p in a}) == len(a)


def test_editing_one_section_keeps_other_ids():
    text = SEED.read_text(encoding="utf-8")
    before = {p.id for p in chunk_guide(parse_guide(text, SEED.name))}
    edited = text.replace("The pace can be fast", "The pace can be very fast")
    after = {p.id for p in chunk_guide(parse_guide(edited, SEED.name))}
    assert len(before - after) == 1


def test_sentences_and_rows_are_never_cut():
    _, passages = passages_of(SEED)
    rows = [u for p in passages for u in p.units if u.kind == "table_row"]
    assert len(rows) == 5
    assert all(u.text.endswith("USD") for u in rows)


def test_an_abbreviation_that_opens_a_markdown_link_does_not_end_the_sentence():
    from coach.sentences import split_sentences

    text = (
        "The [U.S. Bureau of Labor Statistics](https://www.bls.gov/ooh/) predicts a 25% increase. "
        "Most **U.S. employers** hire graduates. Pay is high."
    )
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "The [U.S. Bureau of Labor Statistics](https://www.bls.gov/ooh/) predicts a 25% increase.",
        "Most **U.S. employers** hire graduates.",
        "Pay is high.",
    ]


def test_a_run_on_paragraph_is_split_under_the_bound(tmp_path):
    text = "Title Line\n\n" + " ".join(["word"] * 1000) + "\n"
    passages = chunk_guide(parse_guide(text, "long.txt"))
    assert all(len(p.text.split()) <= 180 for p in passages)
    assert sum(len(p.text.split()) for p in passages) == 1000


def test_build_load_round_trip(settings, fake_embedder):
    manifest, warnings = build_index(settings, fake_embedder)
    assert warnings == []
    assert manifest.passage_count > 50 and len(manifest.guides) == 3
    folder = current_folder(settings.index_dir)
    assert folder == settings.index_dir / "builds" / manifest.id
    data = json.loads((folder / "manifest.json").read_text())
    assert data["model"] == fake_embedder.model_id and data["index_type"] == "flat"
    assert "windtechs" in (folder / "words.txt").read_text().split()
    index = load_index(settings, fake_embedder.model_id)
    q = fake_embedder.encode(["GWO Basic Safety Training certification"])[0]
    first = index.dense_search(q, 5)
    again = load_index(settings, fake_embedder.model_id).dense_search(q, 5)
    assert first == again
    top = index.passages[first[0][0]]
    assert top.source == "wind-turbine-technician.txt"


@pytest.mark.parametrize("change", ["edit", "add", "remove", "model"])
def test_every_kind_of_change_makes_the_index_stale(settings, fake_embedder, change):
    build_index(settings, fake_embedder)
    model = fake_embedder.model_id
    if change == "edit":
        p = settings.corpus_dir / "dental-hygienist.md"
        p.write_text(p.read_text() + "\nOne more line.\n")
    elif change == "add":
        (settings.corpus_dir / "new.txt").write_text("New Guide\n\nSome text here.\n")
    elif change == "remove":
        (settings.corpus_dir / "dental-hygienist.md").unlink()
    else:
        model = "another/model@1"
    assert stale_reasons(settings.index_dir, settings.corpus_dir, model)
    with pytest.raises(StaleIndexError, match="out of date"):
        load_index(settings, model)


def test_interrupted_build_leaves_previous_index_loadable(settings, fake_embedder, monkeypatch):
    build_index(settings, fake_embedder)
    before = load_index(settings, fake_embedder.model_id).manifest.built_at

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr("coach.index.make_faiss_index", boom)
    (settings.corpus_dir / "new.txt").write_text("New Guide\n\nSome text here.\n")
    with pytest.raises(KeyboardInterrupt):
        build_index(settings, fake_embedder)
    leftovers = [p.name for p in (settings.index_dir / "builds").iterdir() if p.name.startswith(".tmp")]
    assert leftovers == []
    assert load_index(settings, fake_embedder.model_id, check=False).manifest.built_at == before


def test_interrupted_first_build_leaves_nothing_that_loads(settings, fake_embedder, monkeypatch):
    monkeypatch.setattr("coach.index.make_faiss_index", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        build_index(settings, fake_embedder)
    with pytest.raises(IndexMissingError):
        load_index(settings, fake_embedder.model_id)


def test_corrupted_index_is_refused(settings, fake_embedder):
    build_index(settings, fake_embedder)
    faiss_file = current_folder(settings.index_dir) / "dense.faiss"
    faiss_file.write_bytes(faiss_file.read_bytes()[:100])
    with pytest.raises(CorruptIndexError):
        load_index(settings, fake_embedder.model_id)
    build_index(settings, fake_embedder)
    (current_folder(settings.index_dir) / "manifest.json").write_text('{"format_version": 1, "model": ')
    with pytest.raises(CorruptIndexError):
        load_index(settings, fake_embedder.model_id)


def test_bad_files_are_skipped_and_the_rest_indexed(settings, fake_embedder):
    c = settings.corpus_dir
    (c / "empty.txt").write_text("")
    (c / "latin1.txt").write_bytes("Caf\xe9 guide\n\nNo UTF-8 here.".encode("latin-1"))
    (c / "binary.md").write_bytes(b"\x00\x01\x02binary")
    shutil.copy(c / "dental-hygienist.md", c / "copy.md")
    manifest, warnings = build_index(settings, fake_embedder)
    assert len(manifest.guides) == 3
    joined = " ".join(warnings)
    for name in ["empty.txt", "latin1.txt", "binary.md", "copy.md"]:
        assert name in joined


def test_missing_or_empty_corpus_is_a_clear_error(settings, fake_embedder, tmp_path):
    settings.corpus_dir = tmp_path / "nope"
    with pytest.raises(CorpusError, match="does not exist"):
        build_index(settings, fake_embedder)
    settings.corpus_dir = tmp_path / "empty"
    settings.corpus_dir.mkdir()
    with pytest.raises(CorpusError, match="no usable guides"):
        build_index(settings, fake_embedder)


def test_five_megabyte_guide(settings, fake_embedder):
    text = SEED.read_text(encoding="utf-8")
    big = (text * (5_000_000 // len(text) + 1))[:5_000_000]
    (settings.corpus_dir / "big.txt").write_text(big, encoding="utf-8")
    manifest, _ = build_index(settings, fake_embedder)
    index = load_index(settings, fake_embedder.model_id)
    big_passages = [p for p in index.passages if p.source == "big.txt"]
    assert len(big_passages) > 1000
    assert all(len(p.text.split()) <= 180 for p in big_passages)


def test_units_are_found_by_offset_in_guide_order(settings, fake_embedder):
    """A quoted sentence's offset leads back to its unit, and the next unit is the next one in the guide."""
    build_index(settings, fake_embedder)
    index = load_index(settings, fake_embedder.model_id)
    seen: dict[str, int] = {}
    for pid, p in enumerate(index.passages):
        for j, u in enumerate(p.units):
            g = index.unit_start[pid] + j
            assert index.unit_at(p.source, u.char_start) == g
            assert index.unit_at(p.source, u.char_start + 1) == g or len(u.text) <= 1
            assert g > seen.get(p.source, -1)  # guide order
            seen[p.source] = g
    assert index.unit_at("no-such-guide.txt", 10) is None
    first = index.passages[0]
    assert index.unit_at(first.source, -1) is None
