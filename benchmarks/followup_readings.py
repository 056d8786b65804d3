"""How much the follow-up decision costs: every later turn answered under both readings (issue 8).

    .venv/bin/python benchmarks/followup_readings.py                 # collect (~35 min), then replay (~15 min)
    .venv/bin/python benchmarks/followup_readings.py --turns T.pkl   # replay a collection saved before
    .venv/bin/python benchmarks/followup_readings.py --turns T.pkl --folds 6   # 6 model fits, not one per guide

All 94 guides in two processes, resumable (about 80 min of collecting, then 30 min of replays):

    for i in 0 1; do COACH_THREADS=1 .venv/bin/python benchmarks/followup_readings.py --keep K --shard $i/2 & done; wait
    for r in rules other; do .venv/bin/python benchmarks/followup_readings.py --keep K --nested --replays R --only $r & done; wait
    .venv/bin/python benchmarks/followup_readings.py --keep K --nested --replays R      # the table

Each labelled turn of ``eval/sets.json`` is collected as ``coach train`` does
(bootstrap model, the cross-encoder reading every candidate); a turn after the
first is collected a second time with the other reading (with its topic, or
alone). The collection is then replayed leave-one-guide-out (each guide ranked
and cut by ``coach.train.fit_model`` fitted without it) under the reading the
rules pick and under the other one, and the script prints, for the later
turns: how often each reading is right, the better of the two (what a perfect
follow-up decision would reach), two simple selectors, the fallback the
coach answers with (the topic reading, then the question alone when that
abstains: ``Coach._ask``) and one that falls back either way, and two learned
decisions (a logistic model and boosted trees over the question's follow-up
signals and what each reading finds, fitted on the other guides' turns where
the readings disagree; ``--nested`` fits them on replays by models that never
saw the held-out guides, ``learned_choice`` otherwise). With ``--nested`` also
a vote of the closest labelled later turns of other guides: which reading was
right for the questions most like this one (``vote_choice``). Each row gives the later
turns' hit, false abstention and out-of-scope abstention, and the last two
pooled with the first turns. Offline figures
only: live answers differ a little, since there the history is the coach's
own earlier answers.

Two last rows compose a follow-up answered with its topic two ways (``compositions``):
as served, and with the question alone's best confident unit second (stop 58: 0.758
against 0.747 here, 0.790 against 0.797 live on the held-out guides; not shipped).
"""

from __future__ import annotations

import argparse
import pickle
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from coach.collect import TurnData  # noqa: E402
from coach.evaluate import GuideSet  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def save_atomic(obj: object, path: Path) -> None:
    """Pickle ``obj`` to ``path`` whole or not at all (a process beside this one may be reading it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        pickle.dump(obj, f)
    tmp.replace(path)


def collect_both(
    sets_file: Path, cache: Path, both_readings: bool = True, keep: Path | None = None, shard: tuple[int, int] = (0, 1)
) -> list[TurnData]:
    """Every labelled turn of the sets file, later turns with their other reading (``TurnData.other``)
    unless ``both_readings`` is False (then exactly what ``coach train`` collects).

    With ``keep`` each guide's turns are saved there as they are collected, as ``coach eval``
    keeps its own (``write_collected``, under the guide's ``collected_key``; a folder per
    reading) and a guide saved before is read back instead: a cut run resumes. ``shard`` (i, n)
    collects every n-th missing guide from the i-th, for n processes side by side."""
    from coach.cli import _quiet_libraries
    from coach.collect import bootstrap_model, collect
    from coach.evaluate import load_sets
    from coach.experiment import Workbench, code_digest, collected_key, read_collected, write_collected
    from coach.settings import Settings

    _quiet_libraries()
    sets, _ = load_sets(sets_file)
    wb = Workbench(sets, cache, Settings(), lambda m: print(m, file=sys.stderr))
    kept = keep / ("both" if both_readings else "one") if keep else None
    code = code_digest()
    saved = {gs.name: kept / f"{gs.name}-{collected_key(gs, code, wb.reranker, wb.embedder)}.pkl" for gs in wb.sets} if kept else {}  # fmt: skip
    todo = [gs for gs in wb.sets if not (kept and saved[gs.name].exists())][shard[0] :: shard[1]]
    if wb.reranker is not None and shard[1] > 1:
        wb.reranker.threads = 1

    def collected(gs: GuideSet) -> list[TurnData]:
        got = collect(gs, wb.coach(gs.name, bootstrap_model()), both_readings=both_readings)
        if kept:
            write_collected(saved[gs.name], got)
        print(f"collected {gs.name}: {len(got)} turns", file=sys.stderr)
        return got

    fresh = {gs.name: collected(gs) for gs in todo}
    if not kept or shard[1] > 1:
        return [t for got in fresh.values() for t in got]
    # The rest as saved before (a file that cannot be read is collected again).
    return [t for gs in wb.sets for t in fresh.get(gs.name) or read_collected(saved[gs.name]) or collected(gs)]


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
        composed,
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
            chosen, _ = composed(r, th.extra_min, th.max_words)
            out[key] = {
                "abst": abst,
                "ok": abst if t.abstain else (not abst and bool(t.labels[chosen].any())),
                "p": p,
                "top": float(r.scores[0]),
                "rank": next((n for n, i in enumerate(r.order) if t.labels[i]), th.pool),
                "pool": th.pool,
                # What ``compositions`` needs: the quoted units, the ranking with its scores, the cuts.
                "chosen": chosen,
                "ranked": [(int(i), float(x)) for i, x in zip(r.order, r.scores, strict=True)],
                "cuts": (th.extra_min, th.max_words),
            }
    return out


REPLAY_FORMAT = 2
"""Named in a saved replay's file: 2 keeps what each answer quotes (``compositions``; stop 58)."""

LEARNERS = ("logistic", "trees")
"""The learned decisions replayed: a logistic model over the signals and both readings' scores,
and boosted trees over the same with their differences and abstentions."""


def decision_row(t: TurnData, rules: dict, other: dict, learner: str) -> tuple[list[float], dict, dict]:
    """One later turn as a learned decision sees it: (columns, the topic reading's replay, the
    alone reading's replay)."""
    from coach.conversation import FOLLOWUP_EVIDENCE

    w, a = topic_alone(t, rules, other)
    x = [t.evidence.get(f, 0.0) for f in FOLLOWUP_EVIDENCE] + [w["p"], a["p"], w["top"], a["top"]]
    if learner == "trees":
        x += [w["p"] - a["p"], w["top"] - a["top"], float(w["abst"]), float(a["abst"]), float(t.followup)]
    return x, w, a


def fit_decision(rows: list[tuple[list[float], dict, dict]], learner: str) -> Callable[[list[float]], float]:
    """P(the topic reading is the right one), fitted on the turns where exactly one reading is right
    (a constant when they all agree on one reading, or there are none: then the topic reading)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train = [(x, w["ok"]) for x, w, a in rows if w["ok"] != a["ok"]]
    if len({y for _, y in train}) < 2:
        topic = float(train[0][1]) if train else 1.0
        return lambda x: topic
    clf = (
        HistGradientBoostingClassifier(max_iter=150, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=30)
        if learner == "trees"
        else LogisticRegression(max_iter=3000)
    )
    fitted = make_pipeline(StandardScaler(), clf).fit(np.asarray([x for x, _ in train]), [y for _, y in train])
    right = list(fitted.classes_).index(True)
    return lambda x: float(fitted.predict_proba([x])[0, right])


def learned_choice(later: list[TurnData], rules: dict, other: dict, learner: str = "logistic") -> dict[tuple, dict]:
    """A learned follow-up decision, replayed leave-one-guide-out: the replay of the reading it picks for each later turn.

    Fitted (``fit_decision``) on the other guides' later turns where exactly one
    reading is right. Their scores were replayed by models that saw the held-out
    guide, a second-order leak that flatters it: ``nested_choice`` has none.
    """
    out = {}
    for g in sorted({t.guide for t in later}):
        clf = fit_decision([decision_row(t, rules, other, learner) for t in later if t.guide != g], learner)
        for t in (t for t in later if t.guide == g):
            x, topic, alone = decision_row(t, rules, other, learner)
            out[(t.guide, t.conv, t.turn)] = topic if clf(x) >= 0.5 else alone
    return out


NESTED_GROUPS = 3
"""``--nested``: guides held out in this many groups; each group's decision is fitted on the other
groups' turns as replayed by models fitted without the held-out group (two inner groups)."""


def nested_replays(turns: list[TurnData]) -> dict:
    """The replays ``nested_choice`` needs for one reading: ``outer`` (the guides in ``NESTED_GROUPS``
    groups) and, for each group, ``inner``: the other guides replayed in two groups without it."""
    from coach.experiment import fold_of

    group = fold_of(sorted({t.guide for t in turns}), NESTED_GROUPS)
    inner = {g: replay([t for t in turns if group[t.guide] != g], 2) for g in range(NESTED_GROUPS)}
    return {"outer": replay(turns, NESTED_GROUPS), "inner": inner}


def nested_choice(later: list[TurnData], rules: dict, other: dict, learner: str) -> dict[tuple, dict]:
    """The learned decision without the leak: each held-out group's turns read by the outer replays,
    decided by a fit on the other guides' inner replays (``nested_replays``), none of them fitted on it."""
    from coach.experiment import fold_of

    group = fold_of(sorted({k[0] for k in rules["outer"]}), NESTED_GROUPS)  # as ``nested_replays`` grouped them
    out = {}
    for g in range(NESTED_GROUPS):
        ri, oi = rules["inner"][g], other["inner"][g]
        clf = fit_decision([decision_row(t, ri, oi, learner) for t in later if group[t.guide] != g], learner)
        for t in (t for t in later if group[t.guide] == g):
            x, topic, alone = decision_row(t, rules["outer"], other["outer"], learner)
            out[(t.guide, t.conv, t.turn)] = topic if clf(x) >= 0.5 else alone
    return out


VOTERS = 10
"""``vote_choice``: how many of the closest labelled later turns of other guides vote."""
VOTE_CUTS = [(lo / 20, hi / 20) for lo in range(21) for hi in range(lo, 22)]
"""The (alone below, topic from) pairs of vote cuts ``vote_choice`` chooses among on its training turns."""


def bare_vector(t: TurnData) -> np.ndarray:
    """The vector of the later question alone (the reading without its topic), unit length."""
    v = np.asarray((t.other if t.followup else t).qvec, dtype=np.float32)
    return v / (np.linalg.norm(v) or 1.0)


def topic_alone(t: TurnData, rules: dict, other: dict) -> tuple[dict, dict]:
    """A later turn's replays as (read with its topic, read alone), whichever the rules chose."""
    k = (t.guide, t.conv, t.turn)
    return (rules[k], other[k]) if t.followup else (other[k], rules[k])


def vote_pick(topic: dict, alone: dict, followup: bool, vote: float, cut: tuple[float, float]) -> dict:
    """Alone when the vote for the topic is below ``cut[0]``, the topic from ``cut[1]`` (each falling
    back to the other reading when it abstains), the shipped fallback between them."""
    if vote < cut[0] or not followup and vote < cut[1]:
        return topic if alone["abst"] and not topic["abst"] else alone
    return alone if topic["abst"] and not alone["abst"] else topic


def knn_votes(asking: list[TurnData], voters: list[TurnData], rules: dict, other: dict) -> list[float]:
    """For each turn of ``asking``: the share of its ``VOTERS`` closest later turns of other guides (bare
    questions, cosine to the 4th power as weight), among those where exactly one reading is right,
    whose topic reading was the right one (0.5 when none votes)."""
    split = [(t, topic_alone(t, rules, other)) for t in voters]
    split = [(t, w["ok"]) for t, (w, a) in split if w["ok"] != a["ok"]]
    if not split:
        return [0.5] * len(asking)
    vecs = np.stack([bare_vector(t) for t, _ in split])
    topic_right = np.asarray([y for _, y in split], dtype=float)
    guides = np.asarray([t.guide for t, _ in split])
    out = []
    for t in asking:
        sim = vecs @ bare_vector(t)
        sim[guides == t.guide] = -1.0
        near = np.argsort(-sim)[:VOTERS]
        w = np.clip(sim[near], 0.0, None) ** 4
        out.append(float(w @ topic_right[near] / w.sum()) if w.sum() > 0 else 0.5)
    return out


def vote_choice(later: list[TurnData], rules: dict, other: dict) -> dict[tuple, dict]:
    """Which reading the closest labelled later turns of other guides needed (``knn_votes``), nested
    as ``nested_choice``: each held-out group's votes and cuts come from the other groups' inner
    replays (the cuts fitted on those turns' own leave-one-guide-out votes), none fitted on it."""
    from coach.experiment import fold_of

    group = fold_of(sorted({k[0] for k in rules["outer"]}), NESTED_GROUPS)
    out = {}
    for g in range(NESTED_GROUPS):
        ri, oi = rules["inner"][g], other["inner"][g]
        train = [t for t in later if group[t.guide] != g]
        test = [t for t in later if group[t.guide] == g]
        cases = [
            (*topic_alone(t, ri, oi), t.followup, v)
            for t, v in zip(train, knn_votes(train, train, ri, oi), strict=True)
        ]
        cut = max(VOTE_CUTS, key=lambda c, cases=cases: np.mean([vote_pick(*x, cut=c)["ok"] for x in cases]))
        for t, v in zip(test, knn_votes(test, train, ri, oi), strict=True):
            out[(t.guide, t.conv, t.turn)] = vote_pick(
                *topic_alone(t, rules["outer"], other["outer"]), t.followup, v, cut
            )
    return out


def compositions(t: TurnData, topic: dict, alone: dict) -> dict[str, list[tuple[TurnData, int]]]:
    """A follow-up answered with its topic, composed two ways from the two readings' replays: as
    ``Coach._compose`` does (its own extras, then the question alone's confident units in the places
    left), and with the question alone's best confident unit second, ahead of its own extras (stop
    58; not shipped). Each is a list of (the reading's turn, unit index); a list introduction leads
    with its items either way."""
    from coach.features import is_list_intro
    from coach.train import add_extras

    with_topic, on_its_own = (t, t.other) if t.followup else (t.other, t)
    served = [(with_topic, i) for i in topic["chosen"]]
    best, *rest = topic["ranked"]
    if is_list_intro(with_topic.texts[best[0]]):
        return {"served": served, "alone second": served}
    others = alone.get("ranked", [])
    add_extras(served, on_its_own, others, *topic["cuts"])
    second = [(with_topic, best[0])]
    add_extras(second, on_its_own, others[:1], *topic["cuts"], room=2)
    add_extras(second, with_topic, rest, *topic["cuts"])
    add_extras(second, on_its_own, others, *topic["cuts"])
    return {"served": served, "alone second": second}


def collection_args(ap: argparse.ArgumentParser) -> None:
    """The options of a replay over a collection: where the guides are, and a saved collection to reuse."""
    ap.add_argument("--sets", type=Path, default=ROOT / "eval" / "sets.json", help="labelled guides (eval/sets.json)")
    ap.add_argument("--cache", type=Path, default=ROOT / ".cache" / "eval", help="per-guide indexes")
    ap.add_argument("--turns", type=Path, default=None, help="a collection saved by --save (skips collecting)")
    ap.add_argument("--save", type=Path, default=None, help="save the collection here")
    ap.add_argument(
        "--keep", type=Path, default=None,
        help="save each guide's turns in this folder as collected, and reuse them (a cut run resumes)",
    )  # fmt: skip
    ap.add_argument(
        "--shard", default=None, metavar="I/N",
        help="with --keep: collect every N-th missing guide from the I-th (0-based) and stop, for N processes",
    )  # fmt: skip


def collection(args: argparse.Namespace, both_readings: bool = True) -> list[TurnData]:
    """The collection ``--turns`` names, or a new one (saved to ``--save`` when given)."""
    if args.turns:
        with open(args.turns, "rb") as f:
            turns = pickle.load(f)  # noqa: S301 (our own file)
        from coach.features import CANDIDATE_FEATURES

        if any(len(t.rows) and t.rows.shape[1] != len(CANDIDATE_FEATURES) for t in turns):
            sys.exit(f"{args.turns} was collected with other feature columns: collect again with --save.")
        return turns
    shard = (0, 1)
    if args.shard:
        i, _, n = args.shard.partition("/")
        if not (i.isdigit() and n.isdigit() and 0 <= int(i) < int(n)) or not args.keep:
            sys.exit(f"--shard {args.shard}: give I/N with 0 <= I < N (such as 0/2), and --keep.")
        shard = (int(i), int(n))
    turns = collect_both(args.sets, args.cache, both_readings, args.keep, shard)
    if shard[1] > 1:
        print(f"collected shard {shard[0]} of {shard[1]} into {args.keep}: run again without --shard to replay.")
        sys.exit(0)
    if args.save:
        with open(args.save, "wb") as f:
            pickle.dump(turns, f)
    return turns


def replays(turns: list[TurnData], args: argparse.Namespace) -> tuple[dict, dict] | None:
    """The two readings' replays (``nested_replays`` with ``--nested``), saved in and read back from
    ``--replays`` when given (named by the collecting code, the fit's code in ``coach.train``
    and the turns replayed); None after ``--only`` made one of them while the other is not saved yet."""
    import hashlib

    from coach import train
    from coach.experiment import code_digest

    h = hashlib.sha256(f"{code_digest()}\0replay {REPLAY_FORMAT}".encode())
    h.update(Path(train.__file__).read_bytes())  # a change to the fit replays again
    for t in sorted(turns, key=lambda t: (t.guide, t.conv, t.turn)):
        h.update(f"{t.guide}\0{t.conv}\0{t.turn}\0{t.abstain}\0{len(t.rows)}\n".encode())
    name = f"{'nested-' if args.nested else ''}{{}}-{args.folds}-{h.hexdigest()[:12]}.pkl"
    path = {r: args.replays / name.format(r) for r in ("rules", "other")} if args.replays else {}
    made = {}
    for reading in ("rules", "other"):
        if path and path[reading].exists():
            continue
        if args.only and args.only != reading:
            continue
        use = turns if reading == "rules" else [t.other or t for t in turns]
        made[reading] = nested_replays(use) if args.nested else replay(use, args.folds)
        if path:
            save_atomic(made[reading], path[reading])
    for reading in set(path) - set(made):  # saved before, or by the run beside this one meanwhile
        if path[reading].exists():
            with open(path[reading], "rb") as f:
                made[reading] = pickle.load(f)  # noqa: S301 (our own file)
    return (made["rules"], made["other"]) if len(made) == 2 else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    collection_args(ap)
    ap.add_argument(
        "--folds", type=int, default=None, help="hold guides out this many groups at a time (default: one per guide)"
    )
    ap.add_argument(
        "--nested", action="store_true",
        help=f"replay in {NESTED_GROUPS} groups and fit the learned decisions without any leak (18 model fits)",
    )  # fmt: skip
    ap.add_argument("--replays", type=Path, default=None, help="save the replays in this folder, and reuse them")
    ap.add_argument(
        "--only", choices=["rules", "other"], default=None,
        help="with --replays: replay this reading only (run the two side by side: the one that ends last prints the table)",
    )  # fmt: skip
    args = ap.parse_args()
    if args.folds is not None and args.folds < 2:
        ap.error("--folds needs 2 or more groups (each fit needs guides the held-out ones are not in).")
    if args.only and not args.replays:
        ap.error("--only needs --replays (the folder the other run reads it from).")
    if args.nested and args.folds not in (None, NESTED_GROUPS):
        ap.error(f"--nested replays in {NESTED_GROUPS} groups: leave --folds out.")
    if args.nested:
        args.folds = NESTED_GROUPS
    turns = collection(args)
    both = replays(turns, args)
    if both is None:
        print(f"replayed the {args.only} reading into {args.replays}: run again without --only for the table.")
        return 0
    nested = both if args.nested else None
    rules, other = (both[0]["outer"], both[1]["outer"]) if args.nested else both
    later = [t for t in turns if t.other is not None]

    def key(t: TurnData) -> tuple:
        return (t.guide, t.conv, t.turn)

    inscope = [t for t in turns if not t.abstain]
    ranks = np.asarray([rules[key(t)]["rank"] for t in inscope])
    pools = np.asarray([rules[key(t)]["pool"] for t in inscope])
    print(f"all {len(inscope)} in-scope turns, the coach's reading: a right unit among the candidates "
          f"{np.mean([t.labels.any() for t in inscope]):.3f}, among those the cross-encoder reads "
          f"{np.mean(ranks < pools):.3f}, ranked first {np.mean(ranks < 1):.3f}, in the first three {np.mean(ranks < 3):.3f}")  # fmt: skip

    first = [t for t in turns if t.other is None]

    def figures(pick) -> str:  # noqa: ANN001
        """Later turns' hit, false abstention and out-of-scope abstention under ``pick`` (key -> the
        replay of the reading it picks), then the same pooled with the first turns."""
        ins, oos = [t for t in later if not t.abstain], [t for t in later if t.abstain]
        f_in, f_oos = [t for t in first if not t.abstain], [t for t in first if t.abstain]
        cells = [
            np.mean([pick(key(t))["ok"] for t in ins]), np.mean([pick(key(t))["abst"] for t in ins]),
            np.mean([pick(key(t))["abst"] for t in oos]),
            np.mean([pick(key(t))["abst"] for t in oos] + [rules[key(t)]["abst"] for t in f_oos]),
            np.mean([pick(key(t))["abst"] for t in ins] + [rules[key(t)]["abst"] for t in f_in]),
        ]  # fmt: skip
        return " ".join(f"{c:>9.3f}" for c in cells)

    followups = {key(t): t.followup for t in later}
    rows = {
        "rules' reading": rules.__getitem__,
        "the other reading": other.__getitem__,
        "better of the two (a perfect decision)": lambda k: (
            rules[k] if rules[k]["ok"] or not other[k]["ok"] else other[k]
        ),
        "higher top ranker score": lambda k: max(rules[k], other[k], key=lambda z: z["top"]),
        "higher P(answerable)": lambda k: max(rules[k], other[k], key=lambda z: z["p"]),
        # What ``Coach._ask`` does: a follow-up its topic reading does not cover is read alone.
        "topic, then alone if it abstains (shipped)": lambda k: (
            other[k] if followups[k] and rules[k]["abst"] and not other[k]["abst"] else rules[k]
        ),
        "either reading, then the other if it abstains": lambda k: (
            other[k] if rules[k]["abst"] and not other[k]["abst"] else rules[k]
        ),
    }
    for learner in LEARNERS:
        name = f"learned decision, {learner}"
        if nested:
            rows[f"{name} (nested)"] = nested_choice(later, *nested, learner).__getitem__
            if learner == LEARNERS[-1]:
                rows["closest labelled follow-ups vote (nested)"] = vote_choice(later, *nested).__getitem__
        else:
            rows[name] = learned_choice(later, rules, other, learner).__getitem__
    n_in = sum(not t.abstain for t in later)
    held = f"guides held out in {args.folds} groups" if args.folds else "leave-one-guide-out"
    print(f"later turns: {n_in} in scope, {len(later) - n_in} out of scope ({held} replay); "
          f"'all' pools them with the {len(first)} first turns (the rules' reading)")  # fmt: skip
    print(f"{'reading':<46} {'hit':>9} {'false ab':>9} {'oos ab':>9} {'all oos':>9} {'all fa':>9}")
    for name, pick in rows.items():
        print(f"{name:<46} {figures(pick)}")
    # How a follow-up answered with its topic is composed (the answer model's abstention unchanged),
    # over all in-scope later turns; the others are answered as the shipped fallback answers them.
    hits, words = {"served": [], "alone second": []}, {"served": [], "alone second": []}
    for t in (t for t in later if not t.abstain):
        topic, alone = topic_alone(t, rules, other)
        shipped = rows["topic, then alone if it abstains (shipped)"](key(t))
        if t.followup and shipped is topic and not topic["abst"]:
            ways = {way: ([bool(u.labels[i]) for u, i in q], [u.words[i] for u, i in q])
                    for way, q in compositions(t, topic, alone).items()}  # fmt: skip
        else:
            u = t if shipped is rules[key(t)] else t.other
            quoted = [] if shipped["abst"] else shipped["chosen"]
            ways = dict.fromkeys(hits, ([bool(shipped["ok"])], [u.words[i] for i in quoted]))
        for way, (right, n) in ways.items():
            hits[way].append(any(right))
            if n:
                words[way].append(sum(n))
    for way, label in (("served", "composed as served"), ("alone second", "the alone reading's best unit second")):
        print(
            f"{label:<46} {np.mean(hits[way]):>9.3f}   (in-scope later turns; median words {np.median(words[way]):.0f})"
        )
    split = Counter((t.followup, rules[key(t)]["ok"], other[key(t)]["ok"]) for t in later if not t.abstain)
    print("in scope, (rules call it a follow-up, rules' reading right, other right): count")
    for k, v in sorted(split.items()):
        print(f"  {k}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
