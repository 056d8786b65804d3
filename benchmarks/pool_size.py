"""How many candidates the cross-encoder needs to read: the ranker replayed with smaller pools (issue 8).

    .venv/bin/python benchmarks/pool_size.py --save T.pkl     # collect (~20 min), then replay
    .venv/bin/python benchmarks/pool_size.py --turns T.pkl    # replay a collection saved before

For each held-out guide, the rankers are fitted on the other guides' collected turns
(``coach.train._fit_rankers`` with the pool of ``Thresholds``); the held-out guide's in-scope
turns are then ranked as serving ranks them with the first-stage model keeping only the best
``k`` candidates for the cross-encoder (pool-relative columns computed over those ``k``).
Printed per ``k``: how often the ranker's first pick is right and a right unit is among its
first three. Offline figures; ``coach eval --sets eval/sets.json --cv`` is the live check.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def replay(turns: list, sizes: list[int]) -> dict[int, tuple[float, float]]:
    from coach import train
    from coach.features import CANDIDATE_FEATURES

    pool = train.Thresholds.model_fields["pool"].default
    # Each guide's ``dense_adapted`` from a question map fitted without it, as ``coach train`` fits.
    turns = [t for t in train.with_adapted(turns)[0] if not t.abstain and t.labels.any() and len(t.rows)]
    found: dict[int, list[tuple[bool, bool]]] = {k: [] for k in sizes}
    for guide in sorted({t.guide for t in turns}):
        m = train._fit_rankers([t for t in turns if t.guide != guide], pool)
        for t in (t for t in turns if t.guide == guide):
            first = np.argsort(-m.first.decision(t.rows, CANDIDATE_FEATURES), kind="stable")
            for k in sizes:
                keep = first[:k]
                rows = train.pool_relative(t.rows[keep].copy(), has_logits=t.reranked)
                order = keep[np.argsort(-m.ranker.decision(rows, CANDIDATE_FEATURES), kind="stable")]
                found[k].append((bool(t.labels[order[0]]), bool(t.labels[order[:3]].any())))
    return {k: tuple(np.asarray(v).mean(axis=0)) for k, v in found.items()}


def main() -> int:
    from followup_readings import collection, collection_args

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    collection_args(ap)
    ap.add_argument("--sizes", type=int, nargs="+", default=[4, 5, 6, 8], help="pool sizes to replay")
    args = ap.parse_args()
    turns = collection(args, both_readings=False)
    print(f"{'pool':>4} {'first right':>11} {'right in first 3':>16}")
    for k, (top1, top3) in replay(turns, args.sizes).items():
        print(f"{k:>4} {top1:>11.3f} {top3:>16.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
