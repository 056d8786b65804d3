"""``coach eval --cv`` replayed offline: how a change to the fit would score live, without the live run (issue 8).

    .venv/bin/python benchmarks/nested_replay.py --save T.pkl            # collect once (~20 min), then replay
    .venv/bin/python benchmarks/nested_replay.py --turns T.pkl --abstention logistic

For each guide, ``coach.train.fit_model`` is fitted on the other guides' collected turns
exactly as ``--cv`` fits its fold model; that model's rankers, abstention model and cut are
then applied to the held-out guide's turns (their votes come from the training guides only).
Printed per guide and pooled: out-of-scope abstention, false abstention and whether the
first pick is right. ``coach train``'s own replay (and ``answerable_learners.py``) rank the
training rows with rankers that saw the held-out guide and pick one pooled cut, which
flatters a flexible learner: for the abstention trees it gave 0.776 out-of-scope abstention
where this replay gives 0.762 and the live run 0.74 (the logistic model: 0.726, 0.730, 0.73).
Later turns follow the collected conversation, not the one the fold model would have had.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def replay(turns: list) -> None:
    from coach import train
    from coach.features import QUESTION_FEATURES

    pool = train.Thresholds.model_fields["pool"].default
    pooled: dict[str, list] = {"oos": [], "fa": [], "first": [], "hit": [], "words": []}
    print(
        f"{'held-out guide':<40} {'cut':>6} {'oos abst.':>9} {'false abst.':>11} {'first right':>11} {'hit':>6} {'words':>5}"
    )
    for guide in sorted({t.guide for t in turns}):
        rest = [t for t in turns if t.guide != guide]
        model = train.fit_model(rest)
        made = train.examples_of(rest)
        held = [t for t in train.with_votes(rest + [t for t in turns if t.guide == guide], made) if t.guide == guide]
        held = train.with_prior_of(train.adapted(held, train.model_map(model)), model.question_prior)
        rankers = train.Rankers(model.first, model.first_plain, model.ranker, model.plain_ranker)
        mine: dict[str, list] = {"oos": [], "fa": [], "first": [], "hit": [], "words": []}
        for t in held:
            r = train.rank_turn(t, rankers, pool)
            if r is None:
                continue
            abstains = float(model.answerable.proba(np.asarray([r.qrow]), QUESTION_FEATURES)[0]) < (
                model.thresholds.abstain_below
            )
            if t.abstain:
                mine["oos"].append(abstains)
            else:
                mine["fa"].append(abstains)
                mine["first"].append(r.right())
                found, words = train.compose_sim(r, model.thresholds.extra_min, model.thresholds.max_words)
                mine["hit"].append(found and not abstains)
                if not abstains:
                    mine["words"].append(words)
        for k, v in mine.items():
            pooled[k] += v
        cut = model.thresholds.abstain_below
        print(f"{guide:<40} {cut:>6.3f} {_mean(mine['oos']):>9} {_mean(mine['fa']):>11} {_mean(mine['first']):>11}"
              f" {_mean(mine['hit']):>6} {_median(mine['words']):>5}")  # fmt: skip
    print(f"{'POOLED':<40} {'':>6} {_mean(pooled['oos']):>9} {_mean(pooled['fa']):>11} {_mean(pooled['first']):>11}"
          f" {_mean(pooled['hit']):>6} {_median(pooled['words']):>5}")  # fmt: skip
    print(
        "hit: in-scope turns answered (not abstained) with a right unit among those quoted (as in-scope"
        " single and follow-up turns together); words: median words of the answers given"
    )


def _mean(values: list[bool]) -> str:
    return f"{np.mean(values):.3f}" if values else "-"


def _median(values: list[int]) -> str:
    return f"{np.median(values):.0f}" if values else "-"


def main() -> int:
    from followup_readings import collection, collection_args

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    collection_args(ap)
    ap.add_argument(
        "--abstention",
        choices=["trees", "logistic"],
        default="trees",
        help="the abstention learner: the shipped trees, or the logistic model with evidence signs before them",
    )
    args = ap.parse_args()
    turns = collection(args, both_readings=False)
    if args.abstention == "logistic":
        from coach import train

        train.fit_trees = lambda x, y, features, signs=None: train.fit_linear(x, y, features, features, signs)
    replay(turns)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
