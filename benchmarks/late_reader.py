"""What the late-interaction reader (coach/late.py) adds, and why the abstention does without it (issue 8).

    .venv/bin/python benchmarks/late_reader.py --save T.pkl   # collect as coach train does (~17 min), then replay
    .venv/bin/python benchmarks/late_reader.py --turns T.pkl  # replay a collection saved before (~3 min a variant)

Every labelled turn of ``eval/sets.json`` is collected as ``coach train`` does
(bootstrap model, the cross-encoder and the late reader reading every
candidate), then replayed leave-one-guide-out (each guide ranked and cut by
``coach.train.fit_model`` fitted without it) four ways:

- shipped: the late columns rank, the abstention reads the pool as ranked
  without them (``PLAIN_RANKER``);
- late abstention: the abstention reads the pool as the full ranker orders it;
- no word cover: ``late_cover`` and the question's ``pool_cover`` are 0 (the
  model before the reader read the question word by word);
- no late reader: the late columns are 0 everywhere (the model before it).

It prints, per variant: first-turn and later-turn in-scope hit, out-of-scope
abstention, false abstention, how often a right unit is among the units the
cross-encoder reads (first turns) and ranked first (all in-scope turns), and
the out-of-guide AUC of P(answerable). Offline figures only: live answers
(``coach eval --sets eval/sets.json --cv``) differ a little, since there the
history is the coach's own earlier answers.
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from coach.collect import TurnData  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def collect(sets_file: Path, cache: Path) -> list[TurnData]:
    from coach.cli import _quiet_libraries
    from coach.evaluate import load_sets
    from coach.experiment import Workbench
    from coach.settings import Settings

    _quiet_libraries()
    sets, _ = load_sets(sets_file)
    return Workbench(sets, cache, Settings(), lambda m: print(m, file=sys.stderr)).collect()


def summary(name: str, turns: list[TurnData], res: dict[tuple, dict]) -> str:
    from sklearn.metrics import roc_auc_score

    def key(t: TurnData) -> tuple:
        return (t.guide, t.conv, t.turn)

    first = [res[key(t)]["ok"] for t in turns if t.turn == 0 and not t.abstain]
    later = [res[key(t)]["ok"] for t in turns if t.turn > 0 and not t.abstain]
    oos = [res[key(t)]["ok"] for t in turns if t.abstain]
    fa = [res[key(t)]["abst"] for t in turns if not t.abstain]
    labelled = [t for t in turns if not t.abstain and t.labels.any()]
    reach = [res[key(t)]["rank"] < res[key(t)]["pool"] for t in labelled if t.turn == 0]
    top1 = [res[key(t)]["rank"] == 0 for t in turns if not t.abstain]
    auc = roc_auc_score([not t.abstain for t in turns], [res[key(t)]["p"] for t in turns])
    return (
        f"{name:<16} {np.mean(first):>6.3f} {np.mean(later):>6.3f} {np.mean(oos):>5.3f} {np.mean(fa):>6.3f} "
        f"{np.mean(reach):>6.3f} {np.mean(top1):>6.3f} {auc:>6.3f}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", type=Path, default=ROOT / "eval" / "sets.json")
    ap.add_argument("--cache", type=Path, default=ROOT / ".cache" / "eval")
    ap.add_argument("--turns", type=Path, help="a collection saved with --save")
    ap.add_argument("--save", type=Path, help="save the collection here")
    args = ap.parse_args()

    from followup_readings import replay

    import coach.train as train
    from coach.features import CANDIDATE_FEATURES, PLAIN_RANKER

    if args.turns:
        turns = pickle.loads(args.turns.read_bytes())
    else:
        turns = collect(args.sets, args.cache)
        if args.save:
            args.save.write_bytes(pickle.dumps(turns))
    print(f"{len(turns)} turns; leave-one-guide-out replay")
    print(f"{'variant':<16} {'first':>6} {'later':>6} {'oos':>5} {'f.abst':>6} {'reach':>6} {'top1':>6} {'AUC':>6}")
    print(summary("shipped", turns, replay(turns)), flush=True)

    assert train.PLAIN_RANKER is PLAIN_RANKER  # coach.train fits ``plain`` on this very list
    plain = list(PLAIN_RANKER)
    PLAIN_RANKER[:] = CANDIDATE_FEATURES
    try:
        print(summary("late abstention", turns, replay(turns)), flush=True)
    finally:
        PLAIN_RANKER[:] = plain

    def without(columns: list[str]) -> list[TurnData]:
        """The turns with ``columns`` (and the question's ``pool_cover``) read as 0."""
        picked = [CANDIDATE_FEATURES.index(f) for f in columns]
        out = []
        for t in turns:
            rows = t.rows.copy()
            rows[:, picked] = 0.0
            out.append(t.model_copy(update={"rows": rows, "cover": 0.0}))
        return out

    uncovered = without(["late_cover"])
    print(summary("no word cover", uncovered, replay(uncovered)), flush=True)
    zeroed = without([f for f in CANDIDATE_FEATURES if f.startswith("late")])
    print(summary("no late reader", zeroed, replay(zeroed)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
