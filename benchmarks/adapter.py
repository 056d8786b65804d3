"""What the learned question map is worth (``coach/adapter.py``, the ``dense_adapted`` column; issue 8).

    .venv/bin/python benchmarks/adapter.py --save T.pkl     # collect (~20 min), then replay
    .venv/bin/python benchmarks/adapter.py --turns T.pkl    # replay a collection saved by this version

Two offline figures, both leave-one-guide-out over one collection of the labelled turns:

1. The cosine alone: for each held-out guide a map is fitted on the other guides' answered
   turns (``coach.adapter.fit_adapter``, as shipped: int8 rows); printed per guide and pooled,
   how often the unit with the best plain cosine, and the best adapted cosine, is a right one
   among all of a turn's candidates.
2. The whole model: ``coach.train.fit_model`` on the collection as ``coach train`` fits it
   (its replay report: each guide ranked and its abstention cut chosen without it), with the
   column and with it held at the plain cosine (``--without`` only).

``coach eval --sets eval/sets.json --cv`` is the live check.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def cosine_alone(turns: list) -> dict[str, tuple[float, float, int]]:
    """Guide -> (plain cosine first right, adapted cosine first right, answered turns)."""
    from coach import train
    from coach.adapter import adapt

    use = train._adapter_turns(turns)
    out = {}
    for guide in sorted({t.guide for t in use}):
        fitted = train._fit_adapter([t for t in use if t.guide != guide])
        matrix = fitted[0] if fitted is not None else None
        held = [t for t in use if t.guide == guide]
        plain = [t.labels[int(np.argmax(t.uvecs.astype(np.float32) @ t.qvec))] for t in held]
        turned = [t.labels[int(np.argmax(t.uvecs.astype(np.float32) @ adapt(t.qvec, matrix)))] for t in held]
        out[guide] = (float(np.mean(plain)), float(np.mean(turned)), len(held))
    return out


def plain_column(turns: list) -> tuple[list, None]:
    """``coach.train.with_adapted`` with no map: every row's column is its plain cosine."""
    from coach import train

    return train.adapted(turns, None), None


def main() -> int:
    from followup_readings import collection, collection_args

    from coach import train

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    collection_args(ap)
    ap.add_argument("--without", action="store_true", help="also fit the model with the column at the plain cosine")
    args = ap.parse_args()
    turns = collection(args, both_readings=False)
    found = cosine_alone(turns)
    print(f"{'guide':<40} {'plain':>6} {'adapted':>7} {'turns':>5}")
    for g, (p, a, n) in found.items():
        print(f"{g:<40} {p:>6.3f} {a:>7.3f} {n:>5}")
    total = sum(n for *_, n in found.values())
    pooled = [sum(v[k] * v[2] for v in found.values()) / total for k in (0, 1)]
    print(f"{'pooled':<40} {pooled[0]:>6.3f} {pooled[1]:>7.3f} {total:>5}")
    print("with the column:", train.fit_model(turns).report)
    if args.without:
        train.with_adapted = plain_column
        print("at the plain cosine:", train.fit_model(turns).report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
