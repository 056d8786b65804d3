"""How far the fitted cuts sit from the targets: leave-one-guide-out figures for several margins (issue 8).

    .venv/bin/python benchmarks/margins.py --turns T.pkl     # a collection saved by nested_replay.py --save

``coach train`` fits the abstention cut for a pooled false abstention of
``MAX_FALSE_ABSTENTION`` (0.04 until stop 52, the issue's 0.05 since) and the extra-unit
cut for a median answer of ``MAX_MEDIAN_WORDS`` (45) on the training guides, below the
issue's 50, because a guide never seen varies around the fit. This replays ``coach eval --cv``
as ``nested_replay.py`` does (each guide answered by rankers and cuts fitted without
it) for a grid of both margins at once, so the choice is made on held-out guides.

Run on the 1,412 turns of 21 guides with ``--low-extra`` (CHANGELOG, "Measured, not
shipped"): a median of 48 words (extra-unit cut 0.01-0.02 on most folds) replayed +0.024
single-turn hit, but live ``--cv`` with 47 gave +0.004 single-turn and -0.014 follow-up hit
for 3 more words: the topic reading's own weak extras take the places a follow-up's
reading alone would fill. A false abstention of 0.045 instead of 0.04 replayed +0.03
out-of-scope abstention for -0.007 single-turn hit and false abstention 0.043.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

FALSE_ABSTENTION = [0.03, 0.04, 0.045, 0.05]
MEDIAN_WORDS = [45, 48, 50]
LOW_EXTRA_CUTS = [0.01, 0.02, 0.03, 0.04]
"""Tried below the grid of ``coach.train.EXTRA_GRID`` (0.05 to 0.95) with ``--low-extra``."""


def replay(turns: list, grid: list[float]) -> None:
    from coach import train
    from coach.features import QUESTION_FEATURES

    pool = train.Thresholds.model_fields["pool"].default
    max_words = train.Thresholds.model_fields["max_words"].default
    rows: list[dict] = []
    for guide in sorted({t.guide for t in turns}):
        rest = [t for t in turns if t.guide != guide]
        made = train.examples_of(rest)
        rest, fitted = train.with_adapted(rest)
        voted, prior = train.with_prior(train.with_votes(rest, made))
        first, first_plain, ranker, plain = train._fit_rankers(voted, pool)
        ranked = train._out_of_guide(voted, pool)
        answerable = train._fit_answerable(ranked, first_path=False)
        p = train._oof_answerable(ranked, first_path=False)
        cuts = {fa: train.choose_abstain_cut(ranked, p, fa) for fa in FALSE_ABSTENTION}
        extra = {w: train.choose_extra_cut(ranked, max_words, w, grid) for w in MEDIAN_WORDS}
        held = [t for t in train.with_votes(rest + [t for t in turns if t.guide == guide], made) if t.guide == guide]
        held = train.with_prior_of(train.adapted(held, fitted), prior)
        rankers = train.Rankers(first, first_plain, ranker, plain)
        for t in held:
            r = train.rank_turn(t, rankers, pool)
            if r is None:
                continue
            pk = float(answerable.proba(np.asarray([r.qrow]), QUESTION_FEATURES)[0])
            sims = {w: train.compose_sim(r, extra[w], max_words) for w in MEDIAN_WORDS}
            rows.append(
                {"guide": guide, "abstain": t.abstain, "first": t.turn == 1, "p": pk, "cuts": cuts, "sims": sims}
            )
        print(f"{guide}: cuts {cuts}, extra cuts {extra}", file=sys.stderr, flush=True)
    print(
        f"{'false abst. fit':>15} {'median fit':>10} | {'single':>6} {'follow':>6} {'oos':>5} {'f.abst':>6} {'words':>5}"
    )
    for fa in FALSE_ABSTENTION:
        for w in MEDIAN_WORDS:
            answered = [r["p"] >= r["cuts"][fa] for r in rows]
            single = [
                a and r["sims"][w][0] for r, a in zip(rows, answered, strict=True) if not r["abstain"] and r["first"]
            ]
            follow = [
                a and r["sims"][w][0]
                for r, a in zip(rows, answered, strict=True)
                if not r["abstain"] and not r["first"]
            ]
            oos = [not a for r, a in zip(rows, answered, strict=True) if r["abstain"]]
            fa_ = [not a for r, a in zip(rows, answered, strict=True) if not r["abstain"]]
            words = [r["sims"][w][1] for r, a in zip(rows, answered, strict=True) if a]
            print(f"{fa:>15.3f} {w:>10d} | {np.mean(single):>6.3f} {np.mean(follow):>6.3f} {np.mean(oos):>5.2f}"
                  f" {np.mean(fa_):>6.3f} {np.median(words):>5.0f}")  # fmt: skip
    print(
        "Replayed from the collection (later turns follow the collected conversation); answers are the"
        " units the cuts would quote, words their count."
    )


def main() -> int:
    from followup_readings import collection, collection_args

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    collection_args(ap)
    ap.add_argument("--low-extra", action="store_true", help="let the extra-unit cut go below 0.05")
    args = ap.parse_args()
    from coach.train import EXTRA_GRID

    grid = LOW_EXTRA_CUTS + EXTRA_GRID if args.low_extra else EXTRA_GRID
    replay(collection(args, both_readings=False), grid)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
