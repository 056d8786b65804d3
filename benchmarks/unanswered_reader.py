"""Does tuning the reader on out-of-scope questions too help it tell them apart? (issue 8)

    .venv/bin/python benchmarks/unanswered_reader.py tune --turns T.pkl --half 0      # ~25 min a half
    .venv/bin/python benchmarks/unanswered_reader.py read --turns T.pkl --half 1 --out R1.pkl
    .venv/bin/python benchmarks/unanswered_reader.py report --turns R1.pkl [--turns R0.pkl --replay]
    .venv/bin/python benchmarks/unanswered_reader.py read --turns T.pkl --half 0 --every 2 --out Q1.pkl  # a learning curve

``--every 2`` tunes on every second guide of the half (by name) only: with ``read`` and then
``report``, how the reader reads the other half with half the labelled guides (stop 50: 20 of
half 0's 39 guides, AUC 0.897 against 0.943, best right 0.688 against 0.716, out of scope below
the 4% cut 0.50 against 0.75).

``--rank 32`` tunes and reads a reader with wider side paths (stop 58: on half 1's 2,629 turns,
AUC 0.9439 against the rank-8 reader's 0.9445, best right 0.7195 against 0.7165, out of scope below
the 4% cut 0.745 against 0.741; the training loss the same to within 0.06 at every logged step
from the 51st).

``T.pkl`` is a collection as ``coach train`` makes it (``benchmarks/late_reader.py --save T.pkl``:
every labelled turn of ``eval/sets.json`` with the installed cross-encoder's logits).

``tune`` tunes the reader of one half of the guides (``experiment.cross_fit_readers``' halves)
both ways (``tune_reader``; reused from ``.cache/eval/readers`` when there): listwise on the
in-scope questions only (the recipe of stops 44-45, ``unanswered=False``), and with the half's
out-of-scope questions too (``unanswered=True``, the recipe since stop 46: each group also holds
"none of these" at ``reader.NONE_LOGIT``, and an out-of-scope question's seven wrong texts,
chosen as for an in-scope one, must fall below it).

``read`` has the guides of the *other* half (no guide read by a reader that saw its labels)
re-read by one of the two readers (``--recipe listwise|unanswered``), as ``coach train`` re-reads
its collection (``experiment.rescored``), and saves that collection.

``report`` prints, over the turns given: the AUC of a turn's best logit for "the guide
answers" (in scope against out of scope), how often the best-scored candidate is right on
in-scope turns, and the share of out-of-scope turns whose best logit falls below the in-scope
turns' 4th percentile (abstention by the logit alone, at a 4% false abstention). With
``--replay`` (both halves' ``read`` outputs given), it also prints ``coach.train.fit_model``'s
out-of-guide replay (the figures ``coach train`` reports).
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from coach.collect import TurnData  # noqa: E402


def workbench():  # noqa: ANN201
    from coach.cli import _quiet_libraries

    _quiet_libraries()
    from coach.evaluate import load_sets
    from coach.experiment import Workbench
    from coach.settings import Settings

    os.chdir(ROOT)
    sets, _ = load_sets(ROOT / "eval" / "sets.json")
    return Workbench(sets, ROOT / ".cache" / "eval", Settings(), lambda m: print(m, flush=True))


def halves(wb, turns: list[TurnData]) -> tuple[dict, dict[str, int]]:  # noqa: ANN001
    from coach.experiment import READER_HALVES, fold_of, reader_guides, reader_questions

    questions = reader_questions(wb, turns)
    return questions, fold_of(reader_guides(questions), READER_HALVES)


def reader_of(wb, turns: list[TurnData], half: int, unanswered: bool, every: int = 1, rank: int | None = None) -> Path:  # noqa: ANN001
    """The reader tuned on the guides of ``half`` (every ``every``-th of them, by name, for a learning
    curve), with side paths of ``rank`` (the shipped ``reader.RANK`` when None)."""
    from coach import reader
    from coach.experiment import tune_reader

    questions, group = halves(wb, turns)
    names = sorted(g for g in group if group[g] == half)[::every]
    label = f"half{half}" if every == 1 else f"half{half}-every{every}"
    if rank and rank != reader.RANK:
        label += f"r{rank}"
    return tune_reader(wb, questions, names, label, unanswered=unanswered, rank=rank)


def report(turns: list[TurnData], name: str) -> None:
    from sklearn.metrics import roc_auc_score

    from coach.features import CANDIDATE_FEATURES

    logit = CANDIDATE_FEATURES.index("logit")
    ts = [t for t in turns if t.reranked and len(t.rows)]
    y = np.array([not t.abstain for t in ts])
    top = np.array([t.rows[:, logit].max() for t in ts])
    inscope = [t for t in ts if not t.abstain and t.labels.any()]
    first = np.mean([bool(t.labels[int(np.argmax(t.rows[:, logit]))]) for t in inscope])
    cut = np.quantile(top[y], 0.04)
    print(
        f"{name}: {len(ts)} turns, AUC(best logit) {roc_auc_score(y, top):.4f}, best right {first:.4f}, "
        f"out of scope below the 4% cut {np.mean(top[~y] < cut):.3f}, "
        f"median best logit in/out {np.median(top[y]):.2f} / {np.median(top[~y]):.2f}",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("step", choices=["tune", "read", "report"])
    ap.add_argument("--turns", type=Path, action="append", required=True)
    ap.add_argument("--half", type=int)
    ap.add_argument("--recipe", choices=["listwise", "unanswered"], default="unanswered")
    ap.add_argument("--out", type=Path)
    ap.add_argument(
        "--every",
        type=int,
        default=1,
        help="tune on every K-th guide of the half only (a learning curve; tune and read)",
    )
    ap.add_argument(
        "--rank", type=int, default=None, help="the side paths' rank (default: the shipped reader.RANK; tune and read)"
    )
    ap.add_argument("--replay", action="store_true", help="also fit_model's out-of-guide replay (report)")
    args = ap.parse_args()
    if args.step != "report" and args.half not in (0, 1):
        ap.error(f"{args.step} needs --half 0 or --half 1")
    if args.step == "read" and args.out is None:
        ap.error("read needs --out FILE for the re-read collection")
    turns = [t for f in args.turns for t in pickle.loads(f.read_bytes())]
    if args.step == "report":
        report(turns, ", ".join(str(f) for f in args.turns))
        if args.replay:
            from coach.train import fit_model

            print("out-of-guide replay:", fit_model(turns).report, flush=True)
        return
    wb = workbench()
    if args.step == "tune":
        recipes = [False, True] if args.every == 1 else [args.recipe == "unanswered"]
        for unanswered in recipes:
            print(reader_of(wb, turns, args.half, unanswered, args.every, args.rank), flush=True)
        return
    from coach.experiment import MemoTunedCrossEncoder, rescored

    _, group = halves(wb, turns)
    tuned = MemoTunedCrossEncoder(
        wb.reranker.model_dir, reader_of(wb, turns, args.half, args.recipe == "unanswered", args.every, args.rank)
    )
    wb.readers = {g: tuned for g, h in group.items() if h != args.half}
    read = [t for t in rescored(wb, turns) if group.get(t.guide, args.half) != args.half]
    args.out.write_bytes(pickle.dumps(read))
    print(f"{len(read)} turns re-read, saved to {args.out}", flush=True)


if __name__ == "__main__":
    main()
