"""The question prior (coach/prior.py, the ``question_prior`` abstention feature)."""

from __future__ import annotations

import numpy as np
import pytest

from coach.features import QUESTION_FEATURES
from coach.prior import NO_PRIOR, fit_prior
from tests.conftest import labelled_turn


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def _questions(rng: np.random.Generator, n: int, dim: int = 8) -> tuple[list[np.ndarray], list[bool]]:
    """Questions about the job (one direction) and requests no guide answers (another)."""
    job, request = _unit(rng.normal(size=dim)), _unit(rng.normal(size=dim))
    qs, ys = [], []
    for i in range(n):
        answered = i % 4 != 0
        qs.append(_unit((job if answered else request) + 0.4 * rng.normal(size=dim)))
        ys.append(answered)
    return qs, ys


def test_a_question_like_those_guides_answer_gets_higher_odds_than_a_request_none_answers():
    rng = np.random.default_rng(0)
    qs, ys = _questions(rng, 90)
    prior = fit_prior(qs[:60], ys[:60], "fake")
    assert prior is not None
    odds = np.asarray([prior.read(q, ("fake", 8)) for q in qs[60:]])
    answered = np.asarray(ys[60:])
    assert odds[answered].min() > odds[~answered].max()
    # Another embedder's vectors mean nothing to it: it reads the base rate (45 of 60 in scope);
    # one kind of label alone fits nothing.
    assert prior.read(qs[0], ("other", 8)) == pytest.approx(np.log(45 / 15), abs=1e-6)
    assert fit_prior(qs[:5], [True] * 5, "fake") is None


def test_training_rows_read_a_prior_fitted_without_their_guide():
    from coach import train

    rng = np.random.default_rng(1)
    qs, ys = _questions(rng, 30)
    guides = ["carpenter", "lifeguard", "plumber"]
    turns = [
        labelled_turn(guides[i % 3], str(i), q, np.array([y, False]), abstain=not y)
        for i, (q, y) in enumerate(zip(qs, ys, strict=True))
    ]
    read, shipped = train.with_prior(turns)
    assert shipped is not None and [t.conv for t in read] == [t.conv for t in turns]
    for t in read:
        rest = [u for u in turns if u.guide != t.guide]
        without = fit_prior([u.qvec for u in rest], [not u.abstain for u in rest], "fake")
        assert without is not None and t.prior == pytest.approx(without.read(t.qvec, ("fake", 8)))
        assert t.prior != pytest.approx(shipped.read(t.qvec, ("fake", 8)))


def test_the_answer_path_reads_the_models_prior_for_its_embedder(settings, fake_embedder):
    from coach.answer import Coach
    from coach.index import build_index, load_index
    from coach.model import load_model

    build_index(settings, fake_embedder)
    index = load_index(settings, fake_embedder.model_id)
    model = load_model()
    col = QUESTION_FEATURES.index("question_prior")
    q = "What does a typical day look like?"
    # The shipped regression was fitted on the real embedder's vectors: with the fake one, its base rate.
    assert model.question_prior is not None
    assert Coach(index, fake_embedder, None, model).analyze(q, []).qrow[col] == model.question_prior.base
    assert (
        Coach(index, fake_embedder, None, model.model_copy(update={"question_prior": None})).analyze(q, []).qrow[col]
        == NO_PRIOR
    )
    rng = np.random.default_rng(3)
    qs = [_unit(rng.normal(size=fake_embedder.dimension)) for _ in range(20)]
    own = fit_prior(qs, [k % 2 == 0 for k in range(20)], fake_embedder.model_id)
    assert own is not None
    a = Coach(index, fake_embedder, None, model.model_copy(update={"question_prior": own})).analyze(q, [])
    expected = own.read(a.qvec, (fake_embedder.model_id, fake_embedder.dimension))
    assert expected != pytest.approx(own.base)
    assert a.qrow[col] == pytest.approx(expected) and a.qrow_first[col] == pytest.approx(expected)


def test_training_reads_a_follow_ups_prior_as_serving_does(settings, fake_embedder):
    """A follow-up is read with its topic: training reads the prior from that reading's vector, as serving does."""
    from coach import collect, train
    from coach.answer import Coach, history_turn
    from coach.evaluate import EvalTurn
    from coach.index import build_index, load_index
    from coach.model import load_model

    build_index(settings, fake_embedder)
    index = load_index(settings, fake_embedder.model_id)
    rng = np.random.default_rng(4)
    qs = [_unit(rng.normal(size=fake_embedder.dimension)) for _ in range(30)]
    own = fit_prior(qs, [k % 3 != 0 for k in range(30)], fake_embedder.model_id)
    coach = Coach(index, fake_embedder, None, load_model().model_copy(update={"question_prior": own}))
    history = [history_turn(coach.ask("How much do health information technicians earn?", []))]
    col = QUESTION_FEATURES.index("question_prior")
    alone = coach.analyze("and after 10 years?", [], full_pool=True).qrow[col]
    a = coach.analyze("and after 10 years?", history, full_pool=True)
    assert a.res.followup and a.qrow[col] != pytest.approx(alone)  # read with its topic, not alone
    data = collect.turn_data(
        "g", "c", 1, EvalTurn(q="and after 10 years?", expect_any=["x"]), "and after 10 years?", a, coach
    )
    [read] = train.with_prior_of([data], own)
    assert read.prior == pytest.approx(a.qrow[col])
