"""Benchmarks: cold start, warm answer latency, index builds, memory, scale.

Run with ``python -m coach bench [--guides N] [--json]``. Cold figures come
from fresh subprocesses. The scale part (:func:`bench_scale`) builds and
queries synthetic corpora of 10, 100, 200 and up to N guides written by
:mod:`coach.synth` from the real guides, so every stored vector is a real
embedding of real text; each build and each set of answers runs in a fresh
process, so its peak memory is its own.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

COLD_SCRIPT = r"""
import json, os, resource, sys, time
t0 = time.perf_counter()
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import warnings; warnings.filterwarnings("ignore")
from coach.settings import Settings
from coach.index import load_index
from coach.service import open_models
from coach.answer import Coach
import sentence_transformers, faiss, onnxruntime
from coach.bench import _rss_mb as rss
out = {"import_s": time.perf_counter() - t0, "import_rss_mb": rss()}
s = Settings.from_env()
t = time.perf_counter(); e, r = open_models(s)  # the embedder and the reader the answer model names
out["model_load_s"] = time.perf_counter() - t; out["model_rss_mb"] = rss()
t = time.perf_counter(); ix = load_index(s, e.model_id); out["index_load_s"] = time.perf_counter() - t; out["index_rss_mb"] = rss()
t = time.perf_counter(); Coach(ix, e, r).ask("What does this job pay?"); out["first_answer_s"] = time.perf_counter() - t
out["total_s"] = time.perf_counter() - t0; out["answer_rss_mb"] = rss()
print(json.dumps(out))
"""


def _rss_mb() -> float:
    """Peak resident memory of this process in MB.

    VmHWM (Linux) rather than ru_maxrss: ru_maxrss survives exec, so a child
    started by a big parent would report the parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))] if xs else 0.0


def _subprocess_json(code: str, env: dict[str, str], timeout: float = 900) -> dict:
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "subprocess failed")
    return json.loads(r.stdout.strip().splitlines()[-1])


def bench_cold(settings, env: dict[str, str]) -> dict:  # noqa: ANN001
    return _subprocess_json(COLD_SCRIPT, env)


def bench_build(settings, env: dict[str, str], tmp: Path) -> dict:  # noqa: ANN001
    t = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "coach", "build-index", "--index", str(tmp / "cold-index")],
        capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip
    wall = time.perf_counter() - t
    from coach.index import read_manifest

    manifest = read_manifest(tmp / "cold-index")[0].model_dump()
    return {
        "cold_build_s": round(wall, 2),
        "passages": manifest["passage_count"],
        "units": manifest["unit_count"],
        "passages_per_s": round(manifest["passage_count"] / wall, 1),
        "ok": r.returncode == 0,
    }


def bench_warm(coach, eval_file: Path) -> dict:  # noqa: ANN001
    from coach.answer import history_turn
    from coach.evaluate import read_conversations

    lat, phases = [], {"embed": 0.0, "retrieve": 0.0, "rerank": 0.0, "extract": 0.0}
    for _ in range(2):  # two passes: enough samples for p99 on a small file
        for _, conv in read_conversations(eval_file):
            if isinstance(conv, str):
                continue
            history = []
            for turn in conv.turns:
                a = coach.ask(turn.q, history)
                history.append(history_turn(a))
                lat.append(a.latency_ms)
                for k in phases:
                    phases[k] += a.timings_ms.get(k, 0.0)
    total = sum(phases.values()) or 1.0
    return {
        "answers": len(lat),
        "p50_ms": round(_pct(lat, 0.5), 1),
        "p95_ms": round(_pct(lat, 0.95), 1),
        "p99_ms": round(_pct(lat, 0.99), 1),
        "share": {k: round(v / total, 3) for k, v in phases.items()},
        "rss_mb": round(_rss_mb(), 1),
    }


def bench_embed_throughput(coach, n: int = 1000) -> dict:  # noqa: ANN001
    texts = [p.embed_text for p in coach.index.passages]
    texts = (texts * (n // len(texts) + 1))[:n]
    t = time.perf_counter()
    coach.embedder.encode(texts, batch_size=32)
    dt = time.perf_counter() - t
    return {"passages": n, "seconds": round(dt, 2), "passages_per_s": round(n / dt, 1)}


SCALE_QUESTIONS = [
    "What does this job pay?", "which certification should I get?", "is it fast paced?", "can I work remotely?",
    "what does a senior tech do?", "how do I get started?", "what are the cons?", "which databases should I learn?",
] * 3  # fmt: skip
PHASES = ["embed", "retrieve", "rerank", "extract"]
HNSW_PARAMS = "M=32, efConstruction=80, efSearch=128 (coach.index.make_faiss_index)"


def _folder_mb(folder: Path) -> float:
    return round(sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6, 1)


def build_child(corpus: str, index: str) -> None:
    """Build ``index`` from ``corpus`` in this (fresh) process; print one JSON line. Used by :func:`bench_scale`.

    The models are loaded before the clock starts: the figure is the build, not the model load.
    """
    import warnings

    warnings.filterwarnings("ignore")
    from coach.builds import CACHE
    from coach.embed import SentenceTransformerEmbedder
    from coach.index import build_index
    from coach.settings import Settings
    from coach.vectors import VectorCache

    settings = Settings.from_env(corpus_dir=Path(corpus), index_dir=Path(index))
    embedder = SentenceTransformerEmbedder(settings.model_path)
    embedder.encode(["warm up"])
    marks: dict[str, list[float]] = {}
    embedded = 0

    def progress(phase: str, done: int, total: int) -> None:
        nonlocal embedded
        now = time.perf_counter()
        marks.setdefault(phase, [now, now])[1] = now
        if phase == "embed":
            embedded = max(embedded, total)

    t = time.perf_counter()
    manifest, _ = build_index(settings, embedder, progress)
    wall = time.perf_counter() - t
    # Embedding (with the cache lookups) runs from the end of parsing to the last embed tick.
    embed_s = (marks["embed"][1] - marks["parse"][1]) if embedded and "embed" in marks else 0.0
    with VectorCache(Path(index) / CACHE, embedder.model_id) as cache:
        cached = len(cache)
    texts = 2 * manifest.passage_count + manifest.unit_count  # passage, heading and unit texts
    from coach.builds import current_folder

    print(json.dumps({
        "guides": len(manifest.guides), "passages": manifest.passage_count, "texts": texts,
        "cache_vectors": cached, "embedded": embedded, "build_s": round(wall, 2), "embed_s": round(embed_s, 2),
        "embed_texts_per_s": round(embedded / embed_s, 1) if embed_s > 0 else None,
        "passages_per_s": round(manifest.passage_count / wall, 1), "texts_per_s": round(texts / wall, 1),
        "index_type": manifest.index_type, "index_mb": _folder_mb(current_folder(Path(index))),
        "cache_mb": _folder_mb(Path(index) / CACHE), "rss_mb": round(_rss_mb(), 1),
    }))  # fmt: skip


def _eval_questions(limit: int = 200) -> list[str]:
    """Real questions from the labelled conversations (dev set and eval guides), in a fixed order."""
    from coach.evaluate import read_conversations

    root = Path(__file__).resolve().parent.parent
    files = [root.parent / "shared" / "eval" / "dev.jsonl", *sorted((root / "eval" / "guides").glob("*.jsonl"))]
    out: list[str] = []
    for f in files:
        if f.is_file():
            out += [t.q for _, c in read_conversations(f) if not isinstance(c, str) for t in c.turns]
    return list(dict.fromkeys(out))[:limit]


def ann_figures(vectors: np.ndarray, queries: np.ndarray, sizes: list[int], seed: int = 3) -> list[dict]:
    """Exact vs HNSW search on ``vectors`` (or random subsets of ``sizes`` rows): recall@10 and ms per query.

    Recall counts an HNSW hit as right when its score reaches the exact 10th
    score, so identical vectors (the same passage in two guides) are not
    counted as misses for being the other copy.
    """
    import faiss

    from coach.index import make_faiss_index

    rng = np.random.default_rng(seed)
    rows = []
    for size in sizes:
        sub = vectors if size >= len(vectors) else vectors[np.sort(rng.choice(len(vectors), size, replace=False))]
        sub = np.ascontiguousarray(sub, dtype=np.float32)
        exact = faiss.IndexFlatIP(sub.shape[1])
        exact.add(sub)
        t = time.perf_counter()
        hnsw, _ = make_faiss_index(sub, "hnsw")
        build_s = time.perf_counter() - t
        timing = {}
        for name, index in (("flat", exact), ("hnsw", hnsw)):
            t = time.perf_counter()
            for q in queries:  # one at a time, as a question is answered
                index.search(q.reshape(1, -1), 10)
            timing[name] = (time.perf_counter() - t) * 1000 / len(queries)
        truth, _ = exact.search(queries, 10)
        got, _ = hnsw.search(queries, 10)
        recall = float(np.mean([(g >= t[-1] - 1e-5).sum() / 10 for t, g in zip(truth, got, strict=True)]))
        rows.append({
            "vectors": len(sub), "recall_at_10": round(recall, 4), "flat_ms": round(timing["flat"], 3),
            "hnsw_ms": round(timing["hnsw"], 3), "hnsw_build_s": round(build_s, 2),
        })  # fmt: skip
    return rows


def serve_child(corpus: str, index: str, baseline: bool = False, ann: bool = False) -> None:
    """Load the index, answer warm questions, measure memory (and search quality); print one JSON line."""
    import warnings

    warnings.filterwarnings("ignore")
    from coach.answer import Coach
    from coach.index import load_index
    from coach.service import open_models
    from coach.settings import Settings

    settings = Settings.from_env(corpus_dir=Path(corpus), index_dir=Path(index))
    embedder, reranker = open_models(settings)
    models_rss = _rss_mb()
    t = time.perf_counter()
    ix = load_index(settings, embedder.model_id)
    load_s = time.perf_counter() - t
    coach = Coach(ix, embedder, reranker)
    for q in SCALE_QUESTIONS[:3]:
        coach.ask(q)  # warm: first-call costs are the cold-start figures, not these
    answers = [coach.ask(q) for q in SCALE_QUESTIONS]
    lat = [a.latency_ms for a in answers]
    # The same questions asked with one guide picked (as the app does once a guide is chosen).
    guide = ix.manifest.guides[len(ix.manifest.guides) // 2].source
    scoped = [coach.ask(q, guide=guide).latency_ms for q in SCALE_QUESTIONS]
    phases = {k: round(sum(a.timings_ms.get(k, 0.0) for a in answers) / len(answers), 1) for k in PHASES}
    row = {
        "guides": len(ix.manifest.guides), "passages": len(ix.passages), "index_type": ix.manifest.index_type,
        "load_s": round(load_s, 2), "answers": len(lat), "p50_ms": round(_pct(lat, 0.5), 1),
        "p95_ms": round(_pct(lat, 0.95), 1), "scoped_p50_ms": round(_pct(scoped, 0.5), 1),
        "scoped_p95_ms": round(_pct(scoped, 0.95), 1), "mean_phase_ms": phases, "models_rss_mb": round(models_rss, 1),
    }  # fmt: skip
    if baseline:
        row["baseline"] = bench_baseline(coach, Path(), Path(corpus), SCALE_QUESTIONS)
    if ann:
        queries = embedder.encode(_eval_questions()).astype(np.float32)
        served = ix.dense.reconstruct_n(0, ix.dense.ntotal)
        distinct = np.unique(np.vstack([served, ix.unit_vectors.astype(np.float32)]), axis=0)
        distinct /= np.linalg.norm(distinct, axis=1, keepdims=True)
        steps = [1000, 5000, 10_000, 20_000, 50_000]
        row["ann"] = {
            "queries": len(queries),
            "served": ann_figures(served, queries, [s for s in steps if s < len(served)] + [len(served)]),
            "distinct": ann_figures(distinct, queries, [s for s in steps if s < len(distinct)] + [len(distinct)]),
        }
    row["rss_mb"] = round(_rss_mb(), 1)
    print(json.dumps(row))


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def bench_scale(guides: int, occupations: int | None, seed: int, env: dict[str, str], tmp: Path,
                cold_max: int = 200) -> dict:  # fmt: skip
    """Builds and answers on synthetic corpora of 10, 100, ... ``guides`` guides (coach.synth), one guide, and +1.

    Every size up to ``cold_max`` is built with an empty vector cache (a real
    full build); larger sizes start from the cache of the ``cold_max`` build,
    and their full-build time is extrapolated from the embedding rate measured
    there (marked as such). The incremental build adds one guide of a new
    occupation to the ``min(200, guides)``-guide corpus, in the same run as
    its full build.
    """
    import shutil

    from coach.builds import CACHE
    from coach.synth import default_sources, make_guide, split_source, write_corpus

    def child(code: str) -> dict:
        return _subprocess_json(code, env, timeout=4 * 3600)

    def build(corpus: Path, index: Path) -> dict:
        return child(f"from coach.bench import build_child; build_child({str(corpus)!r}, {str(index)!r})")

    def serve(corpus: Path, index: Path, baseline: bool = False, ann: bool = False) -> dict:
        return child(
            f"from coach.bench import serve_child; serve_child({str(corpus)!r}, {str(index)!r}, {baseline}, {ann})"
        )

    out: dict = {"guides": guides, "occupations": occupations, "seed": seed, "sizes": []}
    one = tmp / "corpus-1"
    one.mkdir()
    shutil.copy(default_sources()[0], one)
    _log("one guide (the seed guide): build, then warm answers and the tutorial baseline")
    out["one"] = {"build": build(one, tmp / "index-1"), "serve": serve(one, tmp / "index-1", baseline=True)}
    inc_size = min(200, guides)
    sizes = sorted({s for s in (10, 100, 200, 1000, guides) if s <= guides} | {inc_size})
    cold_cache: Path | None = None
    rate = None
    for size in sizes:
        corpus, index = tmp / f"corpus-{size}", tmp / f"index-{size}"
        write_corpus(corpus, size, seed, occupations)
        cold = size <= cold_max or cold_cache is None
        if not cold:
            shutil.copytree(cold_cache, index / CACHE)
        _log(f"{size} guides: full build ({'empty vector cache' if cold else 'cache of the cold build'})")
        b = build(corpus, index)
        b["cold_cache"] = cold
        if cold:
            rate = b["embed_texts_per_s"] or rate
            cold_cache = index / CACHE
        elif rate:
            # Every distinct text of this corpus embedded at the rate measured on the cold build.
            b["extrapolated_cold_build_s"] = round(b["build_s"] - b["embed_s"] + b["cache_vectors"] / rate, 1)
        row = {"build": b}
        if size == inc_size:
            cut = [s for s in (split_source(p) for p in default_sources()) if s.sections]
            # A guide of an occupation the corpus does not have: every one of its titled texts is new.
            extra = make_guide(cut, (occupations or size) + 1, seed, None)
            (corpus / extra.path).parent.mkdir(parents=True, exist_ok=True)
            (corpus / extra.path).write_text(extra.text, encoding="utf-8")
            _log(f"{size} guides: add one guide ({extra.occupation}) and rebuild")
            inc = build(corpus, index)
            inc["ratio_to_full"] = round(inc["build_s"] / b["build_s"], 3)
            row["incremental"] = inc
            (corpus / extra.path).unlink()
            build(corpus, index)  # back to `size` guides (all cached) for the answers below
        _log(f"{size} guides: warm answers" + (" and exact vs HNSW search" if size == sizes[-1] else ""))
        row["serve"] = serve(corpus, index, ann=size == sizes[-1])
        out["sizes"].append(row)
    # The one-guide reference again, right after the largest size: on a shared machine the
    # load moves, and a ratio is only fair between runs minutes apart.
    _log("one guide again: warm answers and the tutorial baseline")
    out["one_after"] = serve(one, tmp / "index-1", baseline=True)
    out["embed_texts_per_s"] = rate
    return out


def bench_baseline(coach, eval_file: Path, corpus: Path, questions: list[str] | None = None) -> dict:  # noqa: ANN001
    """The tutorial pipeline (coach.baseline.TutorialCoach) on ``coach``'s guides in ``corpus``.

    Timed on the turns of ``eval_file`` (with its in-scope hit rate), or on
    ``questions`` when given, so a ratio compares the same questions.
    """
    from coach.baseline import TutorialCoach
    from coach.corpus import read_source
    from coach.evaluate import read_conversations

    sources = {g.source: read_source(corpus, g.source) for g in coach.index.manifest.guides}
    tutorial = TutorialCoach(sources, coach.embedder)
    lat, hits, total, words = [], 0, 0, []
    if questions is not None:
        lat = [tutorial.ask(q).latency_ms for q in questions]
    for _, conv in [] if questions is not None else read_conversations(eval_file):
        if isinstance(conv, str):
            continue
        for turn in conv.turns:
            a = tutorial.ask(turn.q)
            lat.append(a.latency_ms)
            if not turn.abstain:
                total += 1
                norm = " ".join(a.text.lower().split())
                hits += any(" ".join(e.lower().split()) in norm for e in turn.expect_any)
                words.append(len(a.text.split()))
    return {
        "p50_ms": round(_pct(lat, 0.5), 1),
        "p95_ms": round(_pct(lat, 0.95), 1),
        "inscope_hit": round(hits / max(total, 1), 3),
        "median_words": statistics.median(words) if words else 0,
    }


def bench_help(env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "coach", "--help"], capture_output=True, env=env, timeout=60)
    return round(time.perf_counter() - t, 3)


def run_bench(args) -> int:  # noqa: ANN001
    import tempfile
    import warnings

    warnings.filterwarnings("ignore")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from coach.service import open_coach
    from coach.settings import Settings

    settings = Settings.from_env(corpus_dir=args.corpus, index_dir=args.index)
    env = {**os.environ, "COACH_CORPUS": str(settings.corpus_dir), "COACH_INDEX": str(settings.index_dir)}
    eval_file = Path(args.eval_file)
    out: dict = {"cores": os.cpu_count(), "reranker": settings.use_reranker}
    if not args.scale_only:
        out["help_s"] = bench_help(env)
        with tempfile.TemporaryDirectory() as tmp:
            out["build"] = bench_build(settings, env, Path(tmp))
        coach = open_coach(settings)
        out["cold"] = bench_cold(settings, env)
        out["embed_throughput"] = bench_embed_throughput(coach)
        out["warm"] = bench_warm(coach, eval_file)
        out["baseline"] = bench_baseline(coach, eval_file, settings.corpus_dir)
    if args.guides > 0:
        with tempfile.TemporaryDirectory(prefix="coach-bench-") as tmp:
            out["scale"] = bench_scale(args.guides, args.occupations or None, args.seed, env, Path(tmp))
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print("\n".join(filter(None, [format_bench(out), format_scale(out.get("scale"))])))
    return 0


def format_bench(o: dict) -> str:
    if "cold" not in o:
        return f"machine: {o['cores']} cores; reranker {'on' if o['reranker'] else 'off'}"
    c, w, b, base = o["cold"], o["warm"], o["build"], o["baseline"]
    ratio = lambda x, y: f"{x / y:.1f}x" if y else "-"  # noqa: E731
    lines = [
        f"machine: {o['cores']} cores; reranker {'on' if o['reranker'] else 'off'}",
        f"--help                         {o['help_s']:.2f} s",
        f"cold start (fresh process)     import {c['import_s']:.2f} s | model load {c['model_load_s']:.2f} s | "
        f"index load {c['index_load_s']:.2f} s | first answer {c['first_answer_s']:.2f} s | total {c['total_s']:.2f} s",
        f"  peak RSS by phase            import {c['import_rss_mb']:.0f} MB | models {c['model_rss_mb']:.0f} MB | "
        f"index {c['index_rss_mb']:.0f} MB | answer {c['answer_rss_mb']:.0f} MB",
        f"warm answers ({w['answers']})             p50 {w['p50_ms']:.1f} ms | p95 {w['p95_ms']:.1f} ms | p99 {w['p99_ms']:.1f} ms "
        f"(baseline top-1 chunk p50 {base['p50_ms']:.1f} ms: {ratio(w['p50_ms'], base['p50_ms'])}; "
        f"p95 {base['p95_ms']:.1f} ms: {ratio(w['p95_ms'], base['p95_ms'])})",
        "  time share                   " + " | ".join(f"{k} {v:.0%}" for k, v in w["share"].items()),
        f"  in-scope hit (dev)           baseline top-1 1000-char chunk {base['inscope_hit']:.2f} with {base['median_words']} words median",
        f"index build (cold, seed)       {b['cold_build_s']:.1f} s for {b['passages']} passages + {b['units']} sentences "
        f"({b['passages_per_s']:.1f} passages/s)",
        f"embedding throughput           {o['embed_throughput']['passages_per_s']:.0f} passages/s on {o['embed_throughput']['passages']}",
    ]
    return "\n".join(lines)


def format_scale(sc: dict | None) -> str:
    """The scale benchmark as a table; extrapolated figures say so."""
    if not sc:
        return ""
    one = sc["one"]["serve"]
    base = one.get("baseline", {})
    ref, bref = one["p95_ms"], base.get("p95_ms") or 0.0
    occ = sc["occupations"] or "one per guide"
    lines = [
        f"synthetic corpora (coach.synth, seed {sc['seed']}, occupations: {occ}); embedding "
        f"{sc['embed_texts_per_s']} texts/s measured on the largest cold build",
        f"tutorial baseline (top-1 chunk) p50 {base.get('p50_ms', 0):.1f} ms | p95 {bref:.1f} ms; "
        f"one guide p50 {one['p50_ms']:.1f} ms | p95 {ref:.1f} ms (reference for the ratios below)",
        "guides passages   texts  full build              texts/s  index MB  build RSS  p50 ms  p95 ms  "
        "p95/1 guide  p95/baseline  serve RSS  scoped p50/p95 ms",
    ]
    for row in [{"build": sc["one"]["build"], "serve": one}, *sc["sizes"]]:
        b, s = row["build"], row["serve"]
        full = f"{b['build_s']:.1f} s measured" if b.get("cold_cache", True) else (
            f"{b.get('extrapolated_cold_build_s', 0):.0f} s extrapolated")  # fmt: skip
        lines.append(
            f"{b['guides']:>6} {b['passages']:>8} {b['texts']:>7}  {full:<22} {b['texts_per_s']:>8.0f} {b['index_mb']:>9.1f} "
            f"{b['rss_mb']:>7.0f} MB {s['p50_ms']:>7.1f} {s['p95_ms']:>7.1f} {s['p95_ms'] / ref:>11.2f}x "
            f"{s['p95_ms'] / bref if bref else 0:>12.1f}x {s['rss_mb']:>7.0f} MB  "
            f"{s.get('scoped_p50_ms', 0):.0f}/{s.get('scoped_p95_ms', 0):.0f}"
        )
        if not b.get("cold_cache", True):
            lines.append(
                f"{'':>6} (measured with the cold build's cache: {b['build_s']:.1f} s, {b['embedded']} texts embedded)"
            )
        if "incremental" in row:
            inc = row["incremental"]
            lines.append(
                f"{'':>6} + one guide of a new occupation: {inc['build_s']:.1f} s ({inc['embedded']} texts embedded), "
                f"{inc['ratio_to_full']:.3f}x the full build"
            )
    after = sc.get("one_after")
    if after and sc["sizes"]:
        last = sc["sizes"][-1]["serve"]
        b2 = after.get("baseline", {}).get("p95_ms") or 0.0
        lines.append(
            f"one guide again, right after {last['guides']} guides: p50 {after['p50_ms']:.1f} ms | p95 "
            f"{after['p95_ms']:.1f} ms; {last['guides']}-guide p95 / this p95 = {last['p95_ms'] / after['p95_ms']:.2f}x; "
            f"tutorial baseline p95 {b2:.1f} ms ({last['p95_ms'] / b2 if b2 else 0:.1f}x)"
        )
    ann = sc["sizes"][-1]["serve"].get("ann") if sc["sizes"] else None
    if ann:
        lines.append(f"exact vs HNSW ({HNSW_PARAMS}), {ann['queries']} real questions, recall@10 against exact search:")
        for name in ("served", "distinct"):
            for r in ann[name]:
                lines.append(
                    f"  {name:<8} {r['vectors']:>7} vectors  recall@10 {r['recall_at_10']:.4f} | flat {r['flat_ms']:.2f} ms"
                    f" | hnsw {r['hnsw_ms']:.2f} ms/query | hnsw build {r['hnsw_build_s']:.1f} s"
                )
    return "\n".join(lines)
