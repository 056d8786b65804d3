"""How much the follow-up decision costs: every later turn answered under both readings (issue 8).

    .venv/bin/python benchmarks/followup_readings.py                 # collect (~35 min), then replay (~15 min)
    .venv/bin/python benchmarks/followup_readings.py --turns T.pkl   # replay a collection saved before
    .venv/bin/python benchmarks/followup_readings.py --turns T.pkl --folds 6   # 6 model fits, not one per guide

Each labelled turn of ``eval/sets.json`` is collected as ``coach train`` does
(bootstrap model, the cross-encoder reading every candidate); a turn after the
first is collected a second time with the other reading (with its topic, or
alone). The collection is then replayed leave-one-guide-out (each guide ranked
and cut by ``coach.train.fit_model`` fitted without it) under the reading the
rules pick and under the other one, and the script prints, for the later
turns: how often each reading is right, the better of the two (what a perfect
follow-up decision would reach), two simple selectors, the fallback the
coach answers with (the topic reading, then the question alone when that
abstains: ``Coach._ask``) and one that falls back either way, and a learned
decision (a logistic model over the question's follow-up signals and what
each reading finds, fitted on the other guides' turns where the readings
disagree). Offline figures
only: live answers differ a little, since there the history is the coach's
own earlier answers.
"""

from __future__ import annotations

import argparse
import pickle
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from coach.collect import TurnData  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def collect_both(sets_file: Path, cache: Path, both_readings: bool = True) -> list[TurnData]:
    """Every labelled turn of the sets file, later turns with their other reading (``TurnData.other``)
    unless ``both_readings`` is False (then exactly what ``coach train`` collects)."""
    from coach.cli import _quiet_libraries
    from coach.collect import bootstrap_model, collect
    from coach.evaluate import load_sets
    from coach.experiment import Workbench
    from coach.settings import Settings

    _quiet_libraries()
    sets, _ = load_sets(sets_file)
    wb = Workbench(sets, cache, Settings(), lambda m: print(m, file=sys.stderr))
    out: list[TurnData] = []
    for gs in wb.sets:
        out += collect(gs, wb.coach(gs.name, bootstrap_model()), both_readings=both_readings)
        print(f"collected {gs.name}: {len(out)} turns", file=sys.stderr)
    return out


def replay(turns: list[TurnData], folds: int | None = None) -> dict[tuple, dict]:
    """Leave-one-guide-out: (guide, conv, turn) -> p(answerable), abstained, right, top ranker score,
    and where the first right unit stands (0 first; ``pool`` when the cross-encoder never reads it).

    With ``folds`` the guides are held out that many groups at a time (sorted names, every
    ``folds``-th in one group): ``folds`` model fits instead of one per guide, each group
    still answered by a model that never saw it.
    """
    from coach.experiment import fold_of
    from coach.features import QUESTION_FEATURES
    from coach.train import (
        Rankers,
        adapted,
        compose_sim,
        examples_of,
        fit_model,
        model_map,
        rank_turn,
        with_prior_of,
        with_votes,
    )

    out = {}
    group = fold_of(sorted({t.guide for t in turns}), folds)
    for held in sorted(set(group.values())):
        train = [t for t in turns if group[t.guide] != held]
        m = fit_model(train)
        th = m.thresholds
        # The held-out guides' questions voted on by the training guides' examples alone (what the
        # model fitted without them holds: ``fit_model`` votes again for the turns it fits on),
        # turned by that model's map and read by its question prior.
        heldout = with_votes([t for t in turns if group[t.guide] == held], examples_of(train))
        for t in with_prior_of(adapted(heldout, model_map(m)), m.question_prior):
            key = (t.guide, t.conv, t.turn)
            r = rank_turn(t, Rankers(m.first, m.first_plain, m.ranker, m.plain_ranker), th.pool)
            if r is None:
                out[key] = {"abst": True, "ok": t.abstain, "p": 0.0, "top": -99.0, "rank": th.pool, "pool": th.pool}
                continue
            p = float(m.answerable.proba(np.asarray([r.qrow]), QUESTION_FEATURES)[0])
            abst = p < th.abstain_below
            found = compose_sim(r, th.extra_min, th.max_words)[0]
            out[key] = {
                "abst": abst,
                "ok": abst if t.abstain else (not abst and found),
                "p": p,
                "top": float(r.scores[0]),
                "rank": next((n for n, i in enumerate(r.order) if t.labels[i]), th.pool),
                "pool": th.pool,
            }
    return out


def learned_choice(later: list[TurnData], rules: dict, other: dict) -> dict[tuple, bool]:
    """A learned follow-up decision, replayed leave-one-guide-out: is each later turn right under it?

    A logistic model over the question's signals (``conversation.followup_evidence``)
    and both readings' P(answerable) and best ranker score, fitted on the
    other guides' later turns where exactly one reading is right.
    """
    from sklearn.linear_model import LogisticRegression

    from coach.conversation import FOLLOWUP_EVIDENCE

    def row(t: TurnData) -> tuple[list[float], bool, bool]:
        w, a = (rules, other) if t.followup else (other, rules)
        k = (t.guide, t.conv, t.turn)
        x = [t.evidence.get(f, 0.0) for f in FOLLOWUP_EVIDENCE] + [w[k]["p"], a[k]["p"], w[k]["top"], a[k]["top"]]
        return x, w[k]["ok"], a[k]["ok"]

    out = {}
    for g in sorted({t.guide for t in later}):
        train = [r for t in later if t.guide != g and (r := row(t))[1] != r[2]]
        x = np.asarray([r[0] for r in train])
        mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
        clf = LogisticRegression(max_iter=2000).fit((x - mean) / scale, [r[1] for r in train])
        for t in (t for t in later if t.guide == g):
            x1, ok_with, ok_alone = row(t)
            with_topic = clf.predict_proba((np.asarray([x1]) - mean) / scale)[0, 1] >= 0.5
            out[(t.guide, t.conv, t.turn)] = ok_with if with_topic else ok_alone
    return out


def collection_args(ap: argparse.ArgumentParser) -> None:
    """The options of a replay over a collection: where the guides are, and a saved collection to reuse."""
    ap.add_argument("--sets", type=Path, default=ROOT / "eval" / "sets.json", help="labelled guides (eval/sets.json)")
    ap.add_argument("--cache", type=Path, default=ROOT / ".cache" / "eval", help="per-guide indexes")
    ap.add_argument("--turns", type=Path, default=None, help="a collection saved by --save (skips collecting)")
    ap.add_argument("--save", type=Path, default=None, help="save the collection here")


def collection(args: argparse.Namespace, both_readings: bool = True) -> list[TurnData]:
    """The collection ``--turns`` names, or a new one (saved to ``--save`` when given)."""
    if args.turns:
        with open(args.turns, "rb") as f:
            turns = pickle.load(f)  # noqa: S301 (our own file)
        from coach.features import CANDIDATE_FEATURES

        if any(len(t.rows) and t.rows.shape[1] != len(CANDIDATE_FEATURES) for t in turns):
            sys.exit(f"{args.turns} was collected with other feature columns: collect again with --save.")
        return turns
    turns = collect_both(args.sets, args.cache, both_readings)
    if args.save:
        with open(args.save, "wb") as f:
            pickle.dump(turns, f)
    return turns


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    collection_args(ap)
    ap.add_argument(
        "--folds", type=int, default=None, help="hold guides out this many groups at a time (default: one per guide)"
    )
    args = ap.parse_args()
    if args.folds is not None and args.folds < 2:
        ap.error("--folds needs 2 or more groups (each fit needs guides the held-out ones are not in).")
    turns = collection(args)
    rules = replay(turns, args.folds)
    other = replay([t.other or t for t in turns], args.folds)
    later = [t for t in turns if t.other is not None]

    def key(t: TurnData) -> tuple:
        return (t.guide, t.conv, t.turn)

    inscope = [t for t in turns if not t.abstain]
    ranks = np.asarray([rules[key(t)]["rank"] for t in inscope])
    pools = np.asarray([rules[key(t)]["pool"] for t in inscope])
    print(f"all {len(inscope)} in-scope turns, the coach's reading: a right unit among the candidates "
          f"{np.mean([t.labels.any() for t in inscope]):.3f}, among those the cross-encoder reads "
          f"{np.mean(ranks < pools):.3f}, ranked first {np.mean(ranks < 1):.3f}, in the first three {np.mean(ranks < 3):.3f}")  # fmt: skip

    def share(pick, abstain: bool) -> str:  # noqa: ANN001
        ts = [t for t in later if t.abstain == abstain]
        return f"{sum(pick(key(t)) for t in ts) / max(len(ts), 1):.3f}"

    followups = {key(t): t.followup for t in later}
    rows = {
        "rules' reading": lambda k: rules[k]["ok"],
        "the other reading": lambda k: other[k]["ok"],
        "better of the two (a perfect decision)": lambda k: rules[k]["ok"] or other[k]["ok"],
        "higher top ranker score": lambda k: max(rules[k], other[k], key=lambda z: z["top"])["ok"],
        "higher P(answerable)": lambda k: max(rules[k], other[k], key=lambda z: z["p"])["ok"],
        # What ``Coach._ask`` does: a follow-up its topic reading does not cover is read alone.
        "topic, then alone if it abstains (shipped)": lambda k: (
            other[k]["ok"] if followups[k] and rules[k]["abst"] and not other[k]["abst"] else rules[k]["ok"]
        ),
        "either reading, then the other if it abstains": lambda k: (
            other[k]["ok"] if rules[k]["abst"] and not other[k]["abst"] else rules[k]["ok"]
        ),
        "learned decision (signals + both readings)": learned_choice(later, rules, other).__getitem__,
    }
    n_in = sum(not t.abstain for t in later)
    held = f"guides held out in {args.folds} groups" if args.folds else "leave-one-guide-out"
    print(f"later turns: {n_in} in scope, {len(later) - n_in} out of scope ({held} replay)")
    print(f"{'reading':<46} {'follow-up hit':>13} {'oos abstained':>13}")
    for name, pick in rows.items():
        print(f"{name:<46} {share(pick, False):>13} {share(pick, True):>13}")
    split = Counter((t.followup, rules[key(t)]["ok"], other[key(t)]["ok"]) for t in later if not t.abstain)
    print("in scope, (rules call it a follow-up, rules' reading right, other right): count")
    for k, v in sorted(split.items()):
        print(f"  {k}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
