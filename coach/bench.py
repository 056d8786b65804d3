"""Benchmarks: cold start, warm answer latency, index build, memory, growth.

Run with ``python -m coach bench [--json]``. Cold figures come from fresh
subprocesses; growth corpora are made by recombining the guide's passages
into many synthetic guides, with random unit vectors standing in for the
stored passages (queries still go through the real model and reranker).
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
from coach.embed import SentenceTransformerEmbedder
from coach.index import load_index
from coach.rerank import CrossEncoder
from coach.answer import Coach
import sentence_transformers, faiss, onnxruntime
from coach.bench import _rss_mb as rss
out = {"import_s": time.perf_counter() - t0, "import_rss_mb": rss()}
s = Settings.from_env()
t = time.perf_counter(); e = SentenceTransformerEmbedder(s.model_path); e.encode(["x"])
r = CrossEncoder(s.reranker_dir); r.warm_up()
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


def _subprocess_json(code: str, env: dict[str, str]) -> dict:
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=900)
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
    manifest = json.loads((tmp / "cold-index" / "manifest.json").read_text())
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


def _random_unit_vectors(rng: np.random.Generator, n: int, dim: int, dtype: type) -> np.ndarray:
    """Random unit vectors made in blocks, so the benchmark's own peak memory stays small."""
    out = np.empty((n, dim), dtype=dtype)
    for start in range(0, n, 10_000):
        block = rng.standard_normal((min(10_000, n - start), dim), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start : start + len(block)] = block
    return out


def _synthetic_index(coach, size: int, seed: int = 7):  # noqa: ANN001, ANN202
    """An Index of ``size`` passages recombined from the real ones, with random unit vectors."""
    import bm25s

    from coach import lexical
    from coach.index import Index, make_faiss_index

    rng = np.random.default_rng(seed)
    base = coach.index.passages
    passages = []
    for k in range(size):
        src = base[k % len(base)]
        passages.append(src.model_copy(update={"id": f"syn{k:07d}", "source": f"synthetic-{k // len(base):05d}.txt"}))
    dim = coach.index.manifest.dimension
    n_units = sum(len(p.units) for p in passages)
    pv = _random_unit_vectors(rng, size, dim, np.float32)
    uv = _random_unit_vectors(rng, n_units, dim, np.float16)
    dense, kind = make_faiss_index(pv)
    bm = bm25s.BM25()
    tok_cache: dict[str, list[str]] = {}
    corpus_tokens = []
    for p in passages:
        key = p.lexical_text
        if key not in tok_cache:
            tok_cache[key] = lexical.tokens(key) or ["_"]
        corpus_tokens.append(tok_cache[key])
    bm.index(corpus_tokens, show_progress=False)
    manifest = coach.index.manifest.model_copy(
        update={"passage_count": size, "unit_count": n_units, "index_type": kind}
    )
    return Index(manifest, passages, dense, uv, bm, coach.index.words), pv


def _recall_at_10(pv: np.ndarray, dense, queries: np.ndarray) -> float:  # noqa: ANN001
    import faiss

    exact = faiss.IndexFlatIP(pv.shape[1])
    exact.add(pv)
    _, truth = exact.search(queries, 10)
    _, got = dense.search(queries, 10)
    return float(np.mean([len(set(t) & set(g)) / 10 for t, g in zip(truth, got, strict=True)]))


GROWTH_QUESTIONS = [
    "What does this job pay?", "which certification should I get?", "is it fast paced?", "can I work remotely?",
    "what does a senior tech do?", "how do I get started?", "what are the cons?", "which databases should I learn?",
] * 3  # fmt: skip


def growth_child(size: int) -> None:
    """One growth run in this (fresh) process; prints one JSON line. Used by :func:`bench_growth`."""
    import warnings

    warnings.filterwarnings("ignore")
    from coach.answer import Coach
    from coach.service import open_coach
    from coach.settings import Settings

    coach = open_coach(Settings.from_env())
    base_rss = _rss_mb()
    t = time.perf_counter()
    index, pv = _synthetic_index(coach, size)
    setup_s = time.perf_counter() - t
    c = Coach(index, coach.embedder, coach.reranker)
    lat = [c.ask(q).latency_ms for q in GROWTH_QUESTIONS]
    rng = np.random.default_rng(1)
    queries = rng.standard_normal((50, pv.shape[1])).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    row = {
        "passages": size,
        "index_type": index.manifest.index_type,
        "setup_s": round(setup_s, 1),
        "p50_ms": round(_pct(lat, 0.5), 1),
        "p95_ms": round(_pct(lat, 0.95), 1),
        "recall_at_10": round(_recall_at_10(pv, index.dense, queries), 3),
        "models_rss_mb": round(base_rss, 1),
        "rss_mb": round(_rss_mb(), 1),
        "vectors": "random unit vectors for stored passages; real model for queries",
    }
    print(json.dumps(row))


def bench_growth(sizes: list[int], env: dict[str, str]) -> list[dict]:
    """Each size in a fresh process, so its peak memory is its own."""
    return [_subprocess_json(f"from coach.bench import growth_child; growth_child({int(size)})", env) for size in sizes]


def bench_baseline(coach, eval_file: Path, corpus: Path) -> dict:  # noqa: ANN001
    """Tutorial pipeline: 1000-character chunks, dense top-1 chunk returned as the answer."""
    from coach.corpus import read_source
    from coach.evaluate import read_conversations
    from coach.settings import Settings

    corpus = Settings.from_env().corpus_dir
    chunks = []
    for src in (g.source for g in coach.index.manifest.guides):
        t = read_source(corpus, src)
        chunks += [t[i : i + 1000] for i in range(0, len(t), 1000)]
    vecs = coach.embedder.encode(chunks)
    lat, hits, total, words = [], 0, 0, []
    for _, conv in read_conversations(eval_file):
        if isinstance(conv, str):
            continue
        for turn in conv.turns:
            t = time.perf_counter()
            q = coach.embedder.encode([turn.q])[0]
            best = chunks[int(np.argmax(vecs @ q))]
            lat.append((time.perf_counter() - t) * 1000)
            if not turn.abstain:
                total += 1
                norm = " ".join(best.lower().split())
                hits += any(" ".join(e.lower().split()) in norm for e in turn.expect_any)
                words.append(len(best.split()))
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
    out["help_s"] = bench_help(env)
    with tempfile.TemporaryDirectory() as tmp:
        out["build"] = bench_build(settings, env, Path(tmp))
    coach = open_coach(settings)
    out["cold"] = bench_cold(settings, env)
    out["embed_throughput"] = bench_embed_throughput(coach)
    out["warm"] = bench_warm(coach, eval_file)
    out["baseline"] = bench_baseline(coach, eval_file, settings.corpus_dir)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    out["growth"] = bench_growth(sizes, env)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(format_bench(out))
    return 0


def format_bench(o: dict) -> str:
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
        f"(baseline top-1 chunk p50 {base['p50_ms']:.1f} ms: {ratio(w['p50_ms'], base['p50_ms'])})",
        "  time share                   " + " | ".join(f"{k} {v:.0%}" for k, v in w["share"].items()),
        f"  in-scope hit (dev)           baseline top-1 1000-char chunk {base['inscope_hit']:.2f} with {base['median_words']} words median",
        f"index build (cold, seed)       {b['cold_build_s']:.1f} s for {b['passages']} passages + {b['units']} sentences "
        f"({b['passages_per_s']:.1f} passages/s)",
        f"embedding throughput           {o['embed_throughput']['passages_per_s']:.0f} passages/s on {o['embed_throughput']['passages']}",
        "growth, one fresh process per size (random stored vectors, real query model + reranker):",
    ]
    for g in o["growth"]:
        lines.append(
            f"  {g['passages']:>7} passages  {g['index_type']:<5} p50 {g['p50_ms']:.1f} ms | p95 {g['p95_ms']:.1f} ms | "
            f"recall@10 {g['recall_at_10']:.3f} | peak RSS {g['rss_mb']:.0f} MB (models alone {g['models_rss_mb']:.0f} MB)"
            f" | setup {g['setup_s']:.0f} s"
        )
    return "\n".join(lines)
