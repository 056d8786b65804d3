"""Which first stage chooses the candidates the cross-encoder reads: boosted trees or the logistic model (issue 8).

    .venv/bin/python benchmarks/first_stage.py --turns T.pkl [--turns T2.pkl ...]

``T.pkl``: saved collections (pickled lists of ``coach.train.TurnData``), e.g. the two halves
re-read by the half readers that ``benchmarks/unanswered_reader.py read --half H --out T.pkl``
writes (joined, as ``coach train`` fits on them), or ``benchmarks/pool_size.py --save T.pkl``.
Both first stages are replayed as ``coach train`` replays its model: the collection prepared as
``fit_model`` prepares it (question map, votes, prior), each guide's turns ranked by rankers fitted
on the guides outside its group (``OUT_OF_GUIDE_GROUPS``), the abstention trees and cuts fitted on
those out-of-guide rankings. Printed per first stage: how often a right unit is among the
``pool`` candidates read, and ``coach train``'s report (in-scope hit, best unit right, false and
out-of-scope abstention). Offline figures; ``coach eval --sets eval/holdout/sets.json`` on guides
nothing was fitted on is the live check. About 15 minutes for the 78 guides on 2 cores.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def replay(turns: list, linear_first: bool) -> dict[str, float]:
    from coach import train

    pool = train.Thresholds.model_fields["pool"].default
    max_words = train.Thresholds.model_fields["max_words"].default
    made = train.examples_of(turns)
    turns = train.with_prior(train.with_votes(train.with_adapted(turns)[0], made))[0]
    ranked = train._out_of_guide(turns, pool, linear_first=linear_first)
    p = train._oof_answerable(ranked, first_path=False)
    cuts = train.Thresholds(
        abstain_below=train.choose_abstain_cut(ranked, p),
        abstain_below_first=0.0,
        extra_min=train.choose_extra_cut(ranked, max_words),
        pool=pool,
        max_words=max_words,
    )
    found = [bool(r.turn.labels[r.order].any()) for r in ranked if not r.turn.abstain and r.turn.labels.any()]
    return {"right_unit_read": round(float(np.mean(found)), 4), **train._offline_report(ranked, p, cuts)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--turns", type=Path, action="append", required=True, help="a saved collection (repeatable)")
    args = ap.parse_args()
    from coach.cli import _quiet_libraries
    from coach.features import CANDIDATE_FEATURES

    _quiet_libraries()
    turns = []
    for path in args.turns:
        with open(path, "rb") as f:
            turns += pickle.load(f)  # noqa: S301 (our own file)
    if any(len(t.rows) and t.rows.shape[1] != len(CANDIDATE_FEATURES) for t in turns):
        sys.exit("The collection was made with other feature columns: collect it again (see --help).")
    order = {g: k for k, g in enumerate(dict.fromkeys(t.guide for t in turns))}
    turns.sort(key=lambda t: order[t.guide])  # stable: each guide's turns as collected
    print(f"{len(turns)} turns of {len(order)} guides")
    for name, linear in (("logistic", True), ("trees", False)):
        t0 = time.perf_counter()
        print(f"{name:>9}: {replay(turns, linear)} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
