"""Fit the answer model from labelled guides: ``python -m coach train``.

1. **Collect** (``coach.collect``). Every labelled conversation is run through
   the answer path of its guide's own index with a fixed bootstrap model, the
   cross-encoder reading every candidate. Each turn keeps its candidate feature
   rows and a label per candidate: does the unit contain an expected answer string?
2. **Fit.** ``first`` and ``ranker`` are logistic models over those rows.
   ``answerable`` (is the question in scope?) is small boosted trees, monotone
   in each piece of evidence, fitted on question rows built from
   *out-of-guide* ranker scores (the ranker of each guide's turns was fitted
   without that guide), so it sees the scores a new guide gets.
3. **Thresholds**, from out-of-guide predictions only: ``abstain_below`` is the
   highest cut whose pooled false abstention stays within the target; the
   extra-unit cut is the one that finds the most answers while the median
   answer stays short.

``fit_model`` is also what ``coach eval --cv`` calls with one guide held out,
so every reported figure comes from a model that never saw that guide.
"""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict

from coach.adapter import FOLDS, adapt, fit_adapter, shipped
from coach.adapter import pack as pack_adapter
from coach.adapter import unpack as unpack_adapter
from coach.collect import TurnData
from coach.evaluate import GuideSet
from coach.examples import NO_VOTE, Elsewhere, Example, ExampleVectors
from coach.features import (
    CANDIDATE_FEATURES,
    EVIDENCE_SIGN,
    FIRST_PLAIN,
    FIRST_STAGE,
    PLAIN_RANKER,
    QUESTION_FEATURES,
    is_list_intro,
    pool_relative,
    question_row,
    without_readers,
)
from coach.model import MODEL_VERSION, AnswerModel, Linear, Thresholds, Trees
from coach.prior import QuestionPrior, fit_prior, read_prior

MAX_FALSE_ABSTENTION = 0.05
"""The issue's bound, met on the training guides' out-of-guide predictions (each guide's
P(answerable) from a model fitted without it, its rows read by a reader that never saw it).
Served, a new guide is read by the reader tuned on every training guide, which is surer of the
guides' answers than the half readers the cut is fitted on: on the 34 held-out guides, the 0.04
the cut aimed at until stop 52 gave 0.023 false abstention, and 0.05 gives 0.025 (CHANGELOG)."""
MAX_MEDIAN_WORDS = 45
EXTRA_GRID = [round(x, 2) for x in np.arange(0.05, 0.96, 0.05)]
Log = Callable[[str], None]


Made = tuple[list[Example], np.ndarray, np.ndarray]
"""Examples with their question vectors and answer vectors (zero rows where there is no answer)."""


def examples_of(turns: list[TurnData]) -> Made:
    """Every collected turn as a labelled question (``coach.examples``), with its question vector
    and its answer vector: the mean of the vectors of the units that answer it (zero when none does)."""
    kept = [t for t in turns if t.searched and t.qvec is not None and t.embedder == turns[0].embedder]
    examples = [Example(query=t.searched, in_scope=not t.abstain, guide=t.title, logit=answer_logit(t)) for t in kept]
    if not kept:
        return examples, np.zeros((0, 1), dtype=np.float32), np.zeros((0, 1), dtype=np.float32)
    vectors = np.vstack([t.qvec for t in kept]).astype(np.float32)
    answers = np.zeros_like(vectors)
    for k, t in enumerate(kept):
        if not t.abstain and t.labels.any() and t.uvecs is not None:
            mean = t.uvecs[t.labels].astype(np.float32).mean(axis=0)
            answers[k] = mean / max(float(np.linalg.norm(mean)), 1e-9)
    return examples, vectors, answers


def answer_logit(t: TurnData) -> float | None:
    """The cross-encoder's logit for the best unit that answers ``t`` (None when none does, or
    the cross-encoder did not read the turn)."""
    if t.abstain or not t.reranked or not t.labels.any():
        return None
    return round(float(t.rows[t.labels, CANDIDATE_FEATURES.index("logit")].max()), 4)


def with_votes(turns: list[TurnData], made: Made | None = None) -> list[TurnData]:
    """``turns`` with their ``elsewhere_vote`` and ``answer_like`` columns from the other guides'
    turns among them, as serving computes them from the model's examples (``made``:
    ``examples_of(turns)``, when the caller has it)."""
    examples, vectors, answers = made if made is not None else examples_of(turns)
    elsewhere = Elsewhere.built(examples, vectors, answers)
    like = CANDIDATE_FEATURES.index("answer_like")

    def voted(t: TurnData) -> TurnData:
        update: dict = {
            "vote": elsewhere.vote(t.qvec, t.title) if t.qvec is not None else NO_VOTE,
            "usual": elsewhere.usual_logits(t.qvec, t.title) if t.qvec is not None else None,
        }
        rows = t.rows.copy()
        rows[:, like] = 0.0
        proto = elsewhere.answer_prototype(t.qvec, t.title) if t.qvec is not None else None
        if proto is not None and t.uvecs is not None and len(rows):
            rows[:, like] = t.uvecs.astype(np.float32) @ proto
        update["rows"] = pool_relative(rows, has_logits=t.reranked)
        if t.other is not None:
            update["other"] = voted(t.other)
        return t.model_copy(update=update)

    return [voted(t) for t in turns]


def _fit_prior(turns: list[TurnData]) -> QuestionPrior | None:
    """The question prior (``coach.prior``) fitted on the question vectors of ``turns`` (one embedder)."""
    use = [t for t in turns if t.qvec is not None and t.embedder == turns[0].embedder] if turns else []
    if not use:
        return None
    return fit_prior([t.qvec for t in use], [not t.abstain for t in use], use[0].embedder)


def with_prior_of(turns: list[TurnData], prior: QuestionPrior | None) -> list[TurnData]:
    """``turns`` with their ``question_prior`` read with the regression ``prior`` (``NO_PRIOR``
    without one), as serving reads it: for a held-out guide, the prior of the model fitted without it."""

    def read(t: TurnData) -> TurnData:
        dim = len(t.qvec) if t.qvec is not None else 0
        update: dict = {"prior": read_prior(prior, t.qvec, (t.embedder, dim))}
        if t.other is not None:
            update["other"] = read(t.other)
        return t.model_copy(update=update)

    return [read(t) for t in turns]


def with_prior(turns: list[TurnData]) -> tuple[list[TurnData], QuestionPrior | None]:
    """``turns`` with their ``question_prior`` from a regression fitted without their guide, as a
    new guide is read, and the regression fitted on all of them (which ships).

    (As with ``with_adapted``: within ``coach train``'s own replay report a guide's abstention is
    fitted on rows whose regressions saw it, a second-order leak the live ``--cv`` does not have.)"""
    fitted = {g: _fit_prior([t for t in turns if t.guide != g]) for g in sorted({t.guide for t in turns})}
    return [with_prior_of([t], fitted[t.guide])[0] for t in turns], _fit_prior(turns)


def _adapter_turns(turns: list[TurnData]) -> list[TurnData]:
    """The turns an adapter learns from: answered, with a right candidate and the vectors (one embedder)."""
    return [
        t for t in turns
        if not t.abstain and t.labels.any() and t.qvec is not None and t.uvecs is not None
        and len(t.uvecs) == len(t.labels) and t.embedder == turns[0].embedder
    ]  # fmt: skip


def _fit_adapter(turns: list[TurnData]) -> tuple[np.ndarray, str] | None:
    """The question map fitted on ``turns`` as it ships (int8 rounding included), and its embedder."""
    use = _adapter_turns(turns)
    if not use:
        return None
    matrix = fit_adapter([t.qvec for t in use], [t.uvecs for t in use], [t.labels for t in use])
    return shipped(matrix, use[0].embedder), use[0].embedder


def adapted(turns: list[TurnData], fitted: tuple[np.ndarray, str] | None) -> list[TurnData]:
    """``turns`` with their ``dense_adapted`` column read with the map ``fitted`` (from
    ``_fit_adapter``), as serving reads it: the plain cosine without a map, or for a turn of
    another embedder."""
    col, dense = CANDIDATE_FEATURES.index("dense_adapted"), CANDIDATE_FEATURES.index("dense")

    def filled(t: TurnData) -> TurnData:
        rows = t.rows.copy()
        if len(rows):
            usable = t.qvec is not None and t.uvecs is not None and len(t.uvecs) == len(rows)
            if fitted is not None and usable and t.embedder == fitted[1]:
                rows[:, col] = t.uvecs.astype(np.float32) @ adapt(t.qvec, fitted[0])
            else:
                rows[:, col] = rows[:, dense]
        return t.model_copy(update={"rows": rows, "other": filled(t.other) if t.other is not None else None})

    return [filled(t) for t in turns]


def model_map(model: AnswerModel) -> tuple[np.ndarray, str] | None:
    """The question map a fitted model ships, for ``adapted`` (None without one)."""
    packed = model.adapter
    matrix = unpack_adapter(packed, (packed.embedder, packed.dimension)) if packed is not None else None
    return (matrix, packed.embedder) if matrix is not None and packed is not None else None


def with_adapted(turns: list[TurnData]) -> tuple[list[TurnData], tuple[np.ndarray, str] | None]:
    """``turns`` with their ``dense_adapted`` column, and the map fitted on all of them.

    Each guide's rows come from a map fitted without it (``coach.adapter.FOLDS`` groups of
    guides), so the rankers learn what the column is worth on a guide the map never saw. (A
    guide held out by ``--cv`` is left out of all of them; within ``coach train``'s own replay
    report a guide's rankers are fitted on rows whose maps may have seen it, a second-order
    leak the live ``--cv`` does not have.)"""
    guides = sorted({t.guide for t in turns})
    group = {g: k % min(FOLDS, len(guides)) for k, g in enumerate(guides)}
    maps = {k: _fit_adapter([t for t in turns if group[t.guide] != k]) for k in sorted(set(group.values()))}
    return [adapted([t], maps[group[t.guide]])[0] for t in turns], _fit_adapter(turns)


def fit_linear(
    x: np.ndarray,
    y: np.ndarray,
    features: list[str],
    columns: list[str],
    signs: dict[str, int] | None = None,
    start: Linear | None = None,
) -> Linear:
    """Standardised L2 logistic regression over ``features`` (a subset of ``columns``).

    With ``signs``, a feature whose weight comes out against its sign is
    dropped (weight 0), the worst first, and the rest refitted. With ``start``
    (a fit of the same features on nearly the same rows, such as all guides
    for a fit without one), the solver starts from its weights: the same
    optimum, reached in a few steps instead of from zero.
    """
    from sklearn.linear_model import LogisticRegression

    if start is not None and start.features != features:
        raise ValueError(f"a fit of {start.features} cannot start one of {features}")
    pick = [columns.index(f) for f in features]
    x = x[:, pick]
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = (x - mean) / scale
    used = list(range(len(features)))
    while True:
        clf = LogisticRegression(C=1.0, max_iter=2000, warm_start=start is not None)
        if start is not None:
            coef, intercept = _restandardised(start, mean, scale)
            clf.coef_, clf.intercept_ = coef[None, used], np.array([intercept])
        clf.fit(z[:, used], y.astype(int))
        fitted = dict(zip(used, clf.coef_[0], strict=True))
        wrong = [
            (signs.get(features[k], 0) * c, k) for k, c in fitted.items() if signs and signs.get(features[k], 0) * c < 0
        ]
        if not wrong:
            break
        used.remove(min(wrong)[1])
    return Linear(
        features=features,
        mean=[round(float(v), 6) for v in mean],
        scale=[round(float(v), 6) for v in scale],
        coef=[round(float(fitted.get(k, 0.0)), 6) for k in range(len(features))],
        intercept=round(float(clf.intercept_[0]), 6),
    )


def _restandardised(fit: Linear, mean: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, float]:
    """``fit``'s weights and intercept for rows standardised with ``mean`` and ``scale`` instead of its own."""
    raw = np.asarray(fit.coef) / np.asarray(fit.scale)
    intercept = fit.intercept - float(raw @ np.asarray(fit.mean)) + float(raw @ mean)
    return raw * scale, intercept


TREES = {"max_depth": 2, "max_iter": 300, "learning_rate": 0.05, "min_samples_leaf": 20}
"""The abstention model's size: depth-2 trees let two pieces of evidence combine ("the best
unit fits, but names none of the question's subject"); chosen once against depth 1 and 3 and
150 rounds (``benchmarks/answerable_learners.py``), not tuned per guide."""


def fit_trees(
    x: np.ndarray, y: np.ndarray, features: list[str], signs: dict[str, int] | None = None, **size: int
) -> Trees:
    """Gradient-boosted trees (``TREES``, or ``size`` in its place) over the columns ``features`` of ``x``,
    written out as ``Trees``.

    With ``signs``, the fit is monotone in each feature that has one: more of a
    piece of evidence can only move the probability its way (``EVIDENCE_SIGN``).
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    signs = signs or {}
    clf = HistGradientBoostingClassifier(
        **{**TREES, **size}, monotonic_cst=[signs.get(f, 0) for f in features], early_stopping=False, random_state=0
    ).fit(x, y.astype(int))
    nodes = [tree[0].nodes for tree in clf._predictors]  # one tree per round for two classes
    return Trees(
        features=features,
        baseline=float(np.ravel(clf._baseline_prediction)[0]),
        feature=[
            [int(f) if not leaf else -1 for f, leaf in zip(n["feature_idx"], n["is_leaf"], strict=True)] for n in nodes
        ],
        threshold=[[float(v) for v in n["num_threshold"]] for n in nodes],
        left=[[int(v) for v in n["left"]] for n in nodes],
        right=[[int(v) for v in n["right"]] for n in nodes],
        missing_left=[[bool(v) for v in n["missing_go_to_left"]] for n in nodes],
        value=[[round(float(v), 9) for v in n["value"]] for n in nodes],
    )


def _kept(t: TurnData, first: Linear, pool: int) -> tuple[np.ndarray, np.ndarray]:
    """(first-stage scores, indices of the ``pool`` candidates the cross-encoder would read), best first."""
    f = first.decision(t.rows, CANDIDATE_FEATURES)
    return f, np.argsort(-f, kind="stable")[:pool]


def _pool_rows(t: TurnData, keep: np.ndarray) -> np.ndarray:
    """The kept candidates' rows as serving computes them: relative to the kept pool only."""
    return pool_relative(t.rows[keep].copy(), has_logits=t.reranked)


class Rankers(NamedTuple):
    """The four linear rankers of an answer model (see ``AnswerModel``)."""

    first: Linear
    first_plain: Linear
    ranker: Linear
    plain: Linear


def _fit_rankers(turns: list[TurnData], pool: int, start: Rankers | None = None) -> Rankers:
    """``first`` and ``first_plain`` on every candidate; ``ranker`` and ``plain`` (``PLAIN_RANKER``
    columns) on the pool ``first`` keeps, exactly as serving sees it. ``start``: rankers fitted on
    nearly the same turns, each fit's starting point (``fit_linear``)."""
    useful = [t for t in turns if not t.abstain and t.labels.any()]
    x = np.vstack([t.rows for t in useful])
    y = np.concatenate([t.labels for t in useful])
    first = fit_linear(x, y, FIRST_STAGE, CANDIDATE_FEATURES, start=start.first if start else None)
    first_plain = fit_linear(
        without_readers(x), y, FIRST_PLAIN, CANDIDATE_FEATURES, start=start.first_plain if start else None
    )
    xs, ys = [], []
    for t in useful:
        _, keep = _kept(t, first, pool)
        if t.labels[keep].any():
            xs.append(_pool_rows(t, keep))
            ys.append(t.labels[keep])
    x, y = np.vstack(xs), np.concatenate(ys)
    return Rankers(
        first, first_plain, fit_linear(x, y, CANDIDATE_FEATURES, CANDIDATE_FEATURES, start=start.ranker if start else None),
        fit_linear(x, y, PLAIN_RANKER, CANDIDATE_FEATURES, start=start.plain if start else None),
    )  # fmt: skip


class Ranked(BaseModel):
    """A turn ranked by given models: what the abstention and composition fits need."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    turn: TurnData
    order: np.ndarray
    scores: np.ndarray
    qrow: list[float]
    qrow_first: list[float]

    def right(self) -> bool:
        """Would quoting the top candidate answer this turn?"""
        return (not self.turn.abstain) and bool(self.turn.labels[int(self.order[0])])


def rank_turn(t: TurnData, m: Rankers, pool: int) -> Ranked | None:
    """``t`` as serving ranks it: ``first`` keeps the pool, ``ranker`` orders it, ``plain``'s order
    builds ``qrow``; ``first_plain`` ranks it for the path without the cross-encoder (``qrow_first``)."""
    if not len(t.rows):
        return None
    first, ranker, plain = m.first, m.ranker, m.plain
    _, keep = _kept(t, first, pool)
    plain_rows = without_readers(t.rows)
    f = m.first_plain.decision(plain_rows, CANDIDATE_FEATURES)
    forder = np.argsort(-f, kind="stable")
    common = dict(
        unknown=t.unknown, subject=t.subject, unknown_gain=t.gain, unknown_names=t.unknown_names,
        wanted=t.wanted, followup=t.followup, vote=t.vote, prior=t.prior,
    )  # fmt: skip
    qfirst = question_row(scores=f[forder], rows=plain_rows[forder], **common, cover=0.0)
    rows = _pool_rows(t, keep)
    s = ranker.decision(rows, CANDIDATE_FEATURES)
    by = np.argsort(-s, kind="stable")
    ps = plain.decision(rows, CANDIDATE_FEATURES)
    bp = np.argsort(-ps, kind="stable")
    qrow = question_row(scores=ps[bp], rows=rows[bp], **common, cover=t.cover, usual=t.usual if t.reranked else None)
    return Ranked(turn=t, order=keep[by], scores=s[by], qrow=qrow, qrow_first=qfirst)


def _out_of_guide(turns: list[TurnData], pool: int, start: Rankers | None = None) -> list[Ranked]:
    """Each guide's turns ranked by rankers fitted on the other guides (each fit started from
    ``start``, the rankers fitted on all of them, when given)."""
    guides = sorted({t.guide for t in turns})
    out: list[Ranked] = []
    for g in guides:
        rest = [t for t in turns if t.guide != g] if len(guides) > 1 else turns
        m = _fit_rankers(rest, pool, start)
        out += [r for t in turns if t.guide == g and (r := rank_turn(t, m, pool)) is not None]
    return out


def _fit_answerable(ranked: list[Ranked], first_path: bool) -> Trees:
    """P(the guide answers this question), from question rows.

    The label is "in scope", not "the top candidate is right": an in-scope
    question answered wrongly fails whether the coach answers or abstains, so
    abstention only has to tell the questions the guide covers from those it
    does not, and a ranker's near-miss must not teach it to abstain.
    """
    x = np.asarray([r.qrow_first if first_path else r.qrow for r in ranked])
    y = np.asarray([not r.turn.abstain for r in ranked])
    return fit_trees(x, y, QUESTION_FEATURES, EVIDENCE_SIGN)


def _oof_answerable(ranked: list[Ranked], first_path: bool) -> np.ndarray:
    """P(answerable) for each turn from a model fitted on the other guides' turns."""
    guides = sorted({r.turn.guide for r in ranked})
    p = np.zeros(len(ranked))
    for g in guides:
        idx = [k for k, r in enumerate(ranked) if r.turn.guide == g]
        rest = [r for r in ranked if r.turn.guide != g] if len(guides) > 1 else ranked
        model = _fit_answerable(rest, first_path)
        rows = np.asarray([ranked[k].qrow_first if first_path else ranked[k].qrow for k in idx])
        p[idx] = model.proba(rows, QUESTION_FEATURES)
    return p


def choose_abstain_cut(ranked: list[Ranked], p: np.ndarray, target: float = MAX_FALSE_ABSTENTION) -> float:
    """The highest cut whose pooled false abstention (in-scope turns abstained) stays within ``target``."""
    inscope = np.sort(np.asarray([pk for r, pk in zip(ranked, p, strict=True) if not r.turn.abstain]))
    if not len(inscope):
        return 0.0
    allowed = int(np.floor(target * len(inscope)))
    # Abstaining below inscope[allowed] abstains on exactly ``allowed`` in-scope turns (ties aside).
    cut = float(inscope[allowed]) if allowed < len(inscope) else 1.0
    return round(cut - 1e-6, 6)


def compose_sim(r: Ranked, extra_min: float, max_words: int) -> tuple[bool, int]:
    """(found the answer, words) for the units the coach would quote at this extra-unit cut."""
    chosen, words = composed(r, extra_min, max_words)
    return bool(r.turn.labels[chosen].any()), words


def composed(r: Ranked, extra_min: float, max_words: int) -> tuple[list[int], int]:
    """The candidates (indices into ``r.turn``) the coach would quote at this extra-unit cut, and their words."""
    t = r.turn
    quote = [(t, int(r.order[0]))]
    # A list introduction is quoted with its items (in ``words`` and ``labels``). Serving fills the
    # places a short list or a paragraph's one sentence leaves with extras (``Coach._compose``);
    # a collection keeps no item count, so the replay leaves them empty and undercounts a little.
    if not is_list_intro(t.texts[quote[0][1]]):
        add_extras(quote, t, list(zip(r.order[1:], r.scores[1:], strict=True)), extra_min, max_words)
    return [i for _, i in quote], sum(t.words[i] for _, i in quote)


def add_extras(
    quote: list[tuple[TurnData, int]],
    t: TurnData,
    ranked: Sequence[tuple[int, float]],
    extra_min: float,
    max_words: int,
    room: int = 3,
) -> None:
    """``Coach._add_extras`` on collected turns: append ``t``'s ``ranked`` candidates (index, ranker
    score; best first) while P(right) reaches ``extra_min`` and ``quote`` has fewer than ``room``
    units, skipping a text quoted already, one that would pass ``max_words`` and a list introduction
    (nothing without its items). ``quote`` holds (turn, index) pairs: a follow-up's two readings
    are two turns (``benchmarks/followup_readings.py``)."""
    for k, score in ranked:
        if len(quote) >= room or 1 / (1 + np.exp(-score)) < extra_min:
            break
        words = sum(u.words[j] for u, j in quote)
        if t.texts[k] in {u.texts[j] for u, j in quote} or words + t.words[k] > max_words:
            continue
        if is_list_intro(t.texts[k]):  # as when answering: no list introduction without its items
            continue
        quote.append((t, int(k)))


def choose_extra_cut(
    ranked: list[Ranked], max_words: int, median_words: int = MAX_MEDIAN_WORDS, grid: Sequence[float] = EXTRA_GRID
) -> float:
    """The extra-unit cut of ``grid`` that finds the most answers while the median answer stays within ``median_words``."""
    inscope = [r for r in ranked if not r.turn.abstain]
    best, best_hits = 1.0, -1
    for cut in grid:
        sims = [compose_sim(r, cut, max_words) for r in inscope]
        hits = sum(h for h, _ in sims)
        if statistics.median(w for _, w in sims) <= median_words and hits > best_hits:
            best, best_hits = cut, hits
    return best


def fit_model(turns: list[TurnData], log: Log = lambda _: None) -> AnswerModel:
    """The full answer model from labelled turns of two or more guides."""
    from coach.errors import CoachError

    guides = {t.guide for t in turns if not t.abstain and t.labels.any()}
    if len(guides) < 2 or not any(t.abstain for t in turns):
        raise CoachError(
            "Fitting needs at least two guides with answerable questions, and some out-of-scope questions.",
            "Add labelled guides to the sets file (eval/sets.json lists the shipped ones).",
        )
    pool = Thresholds.model_fields["pool"].default
    max_words = Thresholds.model_fields["max_words"].default
    made = examples_of(turns)
    turns, adapter = with_adapted(turns)
    turns = with_votes(turns, made)
    turns, prior = with_prior(turns)
    rankers = _fit_rankers(turns, pool)
    first, first_plain, ranker, plain = rankers
    ranked = _out_of_guide(turns, pool, start=rankers)
    answerable = _fit_answerable(ranked, first_path=False)
    answerable_first = _fit_answerable(ranked, first_path=True)
    p = _oof_answerable(ranked, first_path=False)
    p_first = _oof_answerable(ranked, first_path=True)
    thresholds = Thresholds(
        abstain_below=choose_abstain_cut(ranked, p),
        abstain_below_first=choose_abstain_cut(ranked, p_first),
        extra_min=choose_extra_cut(ranked, max_words),
        pool=pool,
        max_words=max_words,
    )
    report = _offline_report(ranked, p, thresholds)
    examples, vectors, answers = made
    pack = turns[0].embedder
    log(f"fitted on {len(turns)} turns of {len({t.guide for t in turns})} guides: {report}")
    return AnswerModel(
        version=MODEL_VERSION, first=first, first_plain=first_plain, ranker=ranker, plain_ranker=plain,
        answerable=answerable,
        answerable_first=answerable_first, thresholds=thresholds, trained_on=[], report=report,
        examples=examples, example_vectors=ExampleVectors.pack(vectors, pack) if examples else None,
        answer_vectors=ExampleVectors.pack(answers, pack) if np.abs(answers).sum() > 0 else None,
        adapter=pack_adapter(*adapter) if adapter is not None else None, question_prior=prior,
    )  # fmt: skip


def _offline_report(ranked: list[Ranked], p: np.ndarray, t: Thresholds) -> dict[str, float]:
    """Out-of-guide figures replayed from the collected rows (``coach eval --cv`` runs them live):
    in-scope hit pooled and for first and later turns (``coach eval``'s single-turn and follow-up
    hit, each later turn read as collected), the first pick, false and out-of-scope abstention."""
    inscope = [(r, pk) for r, pk in zip(ranked, p, strict=True) if not r.turn.abstain]
    oos = [pk for r, pk in zip(ranked, p, strict=True) if r.turn.abstain]
    hits = [pk >= t.abstain_below and compose_sim(r, t.extra_min, t.max_words)[0] for r, pk in inscope]

    def share(xs: Sequence[bool]) -> float:
        return round(float(np.mean(xs)), 3) if len(xs) else 0.0

    first = [r.turn.turn == 0 for r, _ in inscope]
    return {
        "inscope_hit": share(hits),
        "single_hit": share([h for h, f in zip(hits, first, strict=True) if f]),
        "followup_hit": share([h for h, f in zip(hits, first, strict=True) if not f]),
        "top1_right": share([r.right() for r, _ in inscope]),
        "false_abstention": share([pk < t.abstain_below for _, pk in inscope]),
        "oos_abstention": share([pk < t.abstain_below for pk in oos]),
    }


def file_ids(sets: list[GuideSet]) -> list[str]:
    out = []
    for gs in sets:
        for path in [gs.guide, *gs.questions]:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            out.append(f"{gs.name}:{path.name}@{digest}")
    return out


def finish(model: AnswerModel, sets: list[GuideSet]) -> AnswerModel:
    libs = {}
    for pkg in ("scikit-learn", "numpy", "torch"):
        try:
            libs[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            libs[pkg] = "not installed"
    return model.model_copy(
        update={
            "trained_on": file_ids(sets),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "libraries": libs,
        }
    )


def write_model(model: AnswerModel, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(model.model_dump_json(indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
