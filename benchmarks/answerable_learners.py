"""Is the abstention model's type the limit? Learners for P(answerable) compared leave-one-guide-out (issue 8).

    .venv/bin/python benchmarks/answerable_learners.py --turns T.pkl

``T.pkl`` is a collection saved by ``benchmarks/followup_readings.py --save``.
Each guide's turns are ranked by rankers fitted without that guide (as
``coach train`` does), then each learner is fitted on the other guides'
question rows and predicts the held-out guide's. Printed per learner: the
ROC AUC of in-scope against out-of-scope turns, and false abstention and
out-of-scope abstention when each guide's cut is the one that keeps the other
guides' false abstention within ``coach.train.MAX_FALSE_ABSTENTION`` (0.05 since stop 52;
the README's figures from this script were measured at 0.04; ``coach.train.choose_abstain_cut``, as
``coach train``).
"""

from __future__ import annotations

import argparse
import pickle
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

Learner = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def learners() -> dict[str, Learner]:
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

    from coach.features import EVIDENCE_SIGN, QUESTION_FEATURES
    from coach.train import fit_linear, fit_trees

    def linear(signs: dict | None) -> Learner:
        return lambda x, y, z: fit_linear(x, y, QUESTION_FEATURES, QUESTION_FEATURES, signs).proba(z, QUESTION_FEATURES)

    def hgb(depth: int) -> Learner:
        return lambda x, y, z: (
            HistGradientBoostingClassifier(max_depth=depth, max_iter=150, learning_rate=0.05, min_samples_leaf=20)
            .fit(x, y).predict_proba(z)[:, 1]
        )  # fmt: skip

    def trees(**size: int) -> Learner:
        return lambda x, y, z: fit_trees(x, y, QUESTION_FEATURES, EVIDENCE_SIGN, **size).proba(z, QUESTION_FEATURES)

    return {
        "boosted trees, monotone (shipped)": trees(),
        "  the same, depth 1": trees(max_depth=1),
        "  the same, depth 3": trees(max_depth=3),
        "  the same, 150 rounds": trees(max_iter=150),
        "logistic, evidence signs": linear(EVIDENCE_SIGN),
        "logistic, free signs": linear(None),
        "gradient boosting, depth 2": hgb(2),
        "gradient boosting, depth 3": hgb(3),
        "random forest, 300 trees": lambda x, y, z: (
            RandomForestClassifier(300, min_samples_leaf=5, random_state=0).fit(x, y).predict_proba(z)[:, 1]
        ),
    }


def main() -> int:
    from sklearn.metrics import roc_auc_score

    from coach.model import Thresholds
    from coach.train import TREES, _out_of_guide, choose_abstain_cut, with_adapted, with_prior, with_votes

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--turns", type=Path, required=True, help="a collection saved by followup_readings.py --save")
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    with open(args.turns, "rb") as f:
        turns = pickle.load(f)  # noqa: S301 (our own file)
    # As fit_model's turns: each turn votes from the other guides' turns (``elsewhere_vote``), and
    # each guide's ``dense_adapted`` and ``question_prior`` come from a question map and a regression
    # fitted without it (``with_adapted``, ``with_prior``).
    ranked = _out_of_guide(with_prior(with_votes(with_adapted(turns)[0]))[0], Thresholds.model_fields["pool"].default)
    x = np.asarray([r.qrow for r in ranked])
    y = np.asarray([not r.turn.abstain for r in ranked])
    guide = np.asarray([r.turn.guide for r in ranked])
    print(f"{len(ranked)} turns, {int((~y).sum())} out of scope, {len(set(guide))} guides")
    print(f"shipped trees: {TREES}")
    print(f"{'learner':<38} {'AUC':>6} {'false abst.':>11} {'oos abst.':>10}")
    for name, learn in learners().items():
        p = np.zeros(len(y))
        for g in sorted(set(guide)):
            held = guide == g
            p[held] = learn(x[~held], y[~held], x[held])
        fa, oos = [], []
        for g in sorted(set(guide)):
            held = guide == g
            cut = choose_abstain_cut([r for r, h in zip(ranked, held, strict=True) if not h], p[~held])
            fa += list(p[held & y] < cut)
            oos += list(p[held & ~y] < cut)
        print(f"{name:<38} {roc_auc_score(y, p):>6.3f} {np.mean(fa):>11.3f} {np.mean(oos):>10.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
