"""The synthetic corpus generator and the scale benchmark's logic (fake embedder; no timings asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from coach.bench import ann_figures, format_scale
from coach.chunk import chunk_guide
from coach.corpus import scan_corpus
from coach.index import build_index
from coach.parse import parse_guide
from coach.settings import Settings
from coach.synth import default_sources, make_guide, rename, split_source, write_corpus

ROOT = Path(__file__).resolve().parent.parent


def test_default_sources_are_the_real_guides() -> None:
    names = {p.name for p in default_sources()}
    assert "health-information-systems-technician.txt" in names
    assert {"electrician.txt", "pharmacy-technician.md", "wind-turbine-technician.txt"} <= names
    assert "SOURCES.md" not in names


def test_split_source_keeps_every_section_in_order() -> None:
    src = split_source(ROOT / "tests" / "fixtures" / "dental-hygienist.md")
    assert src.preamble.startswith("# Dental Hygienist Career Guide")
    assert [s.splitlines()[0] for s in src.sections][:2] == ["## Key Facts", "## What Hygienists Do"]
    original = (ROOT / "tests" / "fixtures" / "dental-hygienist.md").read_text(encoding="utf-8")
    # Nothing is lost or invented: every line of the guide is in exactly one piece.
    pieces = "".join([src.preamble, *src.sections])
    assert sorted(line for line in pieces.splitlines() if line.strip()) == sorted(
        line for line in original.splitlines() if line.strip()
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("An electrician installs wiring.", "A marine welder installs wiring."),
        ("Electricians earn more.", "Marine Welders earn more."),
        ("How to Become an Electrician", "How to Become a Marine Welder"),
        ("ELECTRICIAN PAY", "MARINE WELDER PAY"),
        ("electrical work", "electrical work"),
    ],
)
def test_rename_follows_case_plural_and_article(text: str, expected: str) -> None:
    assert rename(text, "electrician", "Marine Welder") == expected


def test_same_seed_same_bytes_and_prefixes_agree(tmp_path: Path) -> None:
    a = write_corpus(tmp_path / "a", 12, seed=4, occupations=5)
    b = write_corpus(tmp_path / "b", 12, seed=4, occupations=5)
    assert [(g.path, g.text) for g in a] == [(g.path, g.text) for g in b]
    small = write_corpus(tmp_path / "c", 7, seed=4, occupations=5)
    assert [g.text for g in small] == [g.text for g in a[:7]]  # the 7-guide corpus is the start of the 12-guide one
    other = write_corpus(tmp_path / "d", 12, seed=5, occupations=5)
    assert [g.text for g in other] != [g.text for g in a]


def test_guides_are_distinct_parseable_and_renamed(tmp_path: Path) -> None:
    made = write_corpus(tmp_path, 30, seed=0, occupations=None)
    scan = scan_corpus(tmp_path)
    assert len(scan.guides) == 30 and not scan.warnings  # no file is a copy of another
    assert len({g.occupation for g in made}) == 30
    for g in made[:10]:
        guide = parse_guide((tmp_path / g.path).read_text(encoding="utf-8"), g.path)
        assert chunk_guide(guide)  # real sections, real passages
        words = g.occupation.lower().split()
        assert words[0] in g.text.lower()
        base = split_source(next(p for p in default_sources() if p.stem == g.base))
        assert base.occupation.lower() not in g.text.lower().replace(g.occupation.lower(), "")


def test_occupations_bound_the_distinct_titles(tmp_path: Path) -> None:
    made = write_corpus(tmp_path, 40, seed=0, occupations=4)
    assert len({g.occupation for g in made}) == 4
    assert len({g.path for g in made}) == 40
    assert len({g.text for g in made}) == 40


def _embedded(settings: Settings, fake_embedder) -> int:  # noqa: ANN001
    seen = {"n": 0}

    def progress(phase: str, done: int, total: int) -> None:
        if phase == "embed":
            seen["n"] = max(seen["n"], total)

    build_index(settings, fake_embedder, progress)
    return seen["n"]


def test_a_known_occupation_costs_a_few_texts_a_new_one_its_whole_guide(tmp_path: Path, fake_embedder) -> None:  # noqa: ANN001
    """The property the scale benchmark relies on, and what it reports honestly."""
    if not (ROOT.parent / "shared" / "guides").is_dir():
        pytest.skip("the generator recombines the published guides of ../shared, not present here")
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 6, seed=0, occupations=3)
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", audit_db=tmp_path / "a.sqlite3")
    first = _embedded(settings, fake_embedder)
    assert first > 300

    cut = [s for s in (split_source(p) for p in default_sources()) if s.sections]
    known = make_guide(cut, 7, seed=0, occupations=3)  # edition 3 of an occupation the corpus has
    (corpus / known.path).parent.mkdir(parents=True, exist_ok=True)
    (corpus / known.path).write_text(known.text, encoding="utf-8")
    few = _embedded(settings, fake_embedder)

    new = make_guide(cut, 4, seed=0, occupations=None)  # an occupation the corpus does not have
    (corpus / new.path).parent.mkdir(parents=True, exist_ok=True)
    (corpus / new.path).write_text(new.text, encoding="utf-8")
    many = _embedded(settings, fake_embedder)
    assert few < 20 < 60 < many


def test_ann_figures_count_ties_as_hits() -> None:
    rng = np.random.default_rng(0)
    v = rng.standard_normal((300, 16)).astype(np.float32)
    v = np.vstack([v, v])  # every vector twice, as one passage in two guides
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    rows = ann_figures(v, v[:20], [100, len(v)])
    assert [r["vectors"] for r in rows] == [100, 600]
    assert all(0.9 <= r["recall_at_10"] <= 1.0 for r in rows)
    assert {"flat_ms", "hnsw_ms", "hnsw_build_s"} <= set(rows[0])


def test_format_scale_marks_extrapolated_figures() -> None:
    build = {"guides": 1, "passages": 10, "texts": 40, "build_s": 2.0, "texts_per_s": 20.0, "index_mb": 1.0,
             "rss_mb": 900.0, "embedded": 40, "cold_cache": True}  # fmt: skip
    serve = {"p50_ms": 90.0, "p95_ms": 120.0, "rss_mb": 950.0, "baseline": {"p50_ms": 10.0, "p95_ms": 12.0}}
    big = {**build, "guides": 1000, "cold_cache": False, "extrapolated_cold_build_s": 300.0, "embedded": 5}
    scale = {
        "seed": 0, "occupations": 20, "embed_texts_per_s": 30.0, "one": {"build": build, "serve": serve},
        "sizes": [
            {"build": build, "serve": serve, "incremental": {"build_s": 0.1, "embedded": 3, "ratio_to_full": 0.05}},
            {"build": big, "serve": {**serve, "p95_ms": 150.0}},
        ],
    }  # fmt: skip
    text = format_scale(scale)
    assert "300 s extrapolated" in text and "2.0 s measured" in text
    assert "1.25x" in text  # 150 / 120: the 1,000-guide p95 against the one-guide p95
    assert "0.050x the full build" in text


def test_synth_command_writes_the_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from coach.cli import main

    assert main(["synth", "--guides", "4", "--out", str(tmp_path / "out"), "--occupations", "2"]) == 0
    assert "Wrote 4 guides (2 occupations)" in capsys.readouterr().out
    assert len(scan_corpus(tmp_path / "out").guides) == 4
    assert main(["synth", "--guides", "0", "--out", str(tmp_path / "none")]) == 2
    assert "--guides" in capsys.readouterr().err


def test_baseline_is_the_tutorial_pipeline_on_the_same_questions(settings: Settings, fake_embedder) -> None:  # noqa: ANN001
    from types import SimpleNamespace

    from coach.bench import bench_baseline
    from coach.index import load_index

    build_index(settings, fake_embedder)
    index = load_index(settings, fake_embedder.model_id)
    out = bench_baseline(
        SimpleNamespace(index=index, embedder=fake_embedder), Path(), settings.corpus_dir, ["pay?"] * 5
    )
    assert out["p95_ms"] >= out["p50_ms"] >= 0.0
    assert out["median_words"] == 0  # no labelled turns given: latency only
    labelled = settings.corpus_dir.parent / "dev.jsonl"
    turn = {"q": "How long does training take?", "expect_any": ["zzz-not-in-any-guide"]}
    labelled.write_text(json.dumps({"id": "t1", "kind": "single", "turns": [turn]}) + "\n", encoding="utf-8")
    scored = bench_baseline(SimpleNamespace(index=index, embedder=fake_embedder), labelled, settings.corpus_dir)
    assert scored["inscope_hit"] == 0.0 and scored["median_words"] > 50  # a whole 1000-character chunk


def test_a_guide_added_to_eval_guides_does_not_change_the_generated_corpora(tmp_path: Path) -> None:
    """The generator recombines a fixed list of labelled guides: a new one (with its questions) is not a source."""
    from coach.synth import EVAL_SOURCES, default_sources

    guides = tmp_path / "eval" / "guides"
    guides.mkdir(parents=True)
    for name in (*EVAL_SOURCES, "new-career.txt", "new-career.md"):
        (guides / name).write_text("# A guide\n\nText.\n", encoding="utf-8")
    assert [p.name for p in default_sources(tmp_path)] == list(EVAL_SOURCES)
