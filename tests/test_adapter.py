"""The learned question map (coach/adapter.py, the ``dense_adapted`` candidate column)."""

from __future__ import annotations

import numpy as np
import pytest

from coach.adapter import adapt, fit_adapter, pack, shipped, unpack
from coach.features import CANDIDATE_FEATURES
from tests.conftest import labelled_turn


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def _turns(rng: np.random.Generator, kinds: int, n: int, dim: int = 8):
    """Questions of a few kinds, each answered by a unit that reads like an answer (one direction
    all answers share, as duty lists and pay figures read alike across guides) besides the
    question's own words, among units that repeat the question's words more closely."""
    answerish = _unit(rng.normal(size=dim))
    word_dir = [_unit(rng.normal(size=dim)) for _ in range(kinds)]
    qs, us, ys = [], [], []
    for i in range(n):
        k = i % kinds
        qs.append(_unit(word_dir[k] + 0.2 * rng.normal(size=dim)))
        right = _unit(1.5 * word_dir[k] + answerish + 0.1 * rng.normal(size=dim))
        wrong = [_unit(word_dir[k] + 0.5 * rng.normal(size=dim)) for _ in range(4)]
        wrong += [_unit(rng.normal(size=dim)) for _ in range(4)]
        us.append(np.vstack([right, *wrong]))
        ys.append(np.array([True] + [False] * len(wrong)))
    return qs, us, ys


def _first_right(qs, us, ys, matrix) -> float:
    return float(np.mean([y[int(np.argmax(u @ adapt(q, matrix)))] for q, u, y in zip(qs, us, ys, strict=True)]))


def test_the_map_turns_new_questions_towards_the_units_that_answer_questions_like_them():
    rng = np.random.default_rng(0)
    qs, us, ys = _turns(rng, kinds=3, n=90)
    matrix = fit_adapter(qs[:60], us[:60], ys[:60])
    new = (qs[60:], us[60:], ys[60:])  # questions the map was not fitted on
    plain, turned = _first_right(*new, None), _first_right(*new, matrix)
    assert plain < 0.5  # the plain cosine prefers the units that repeat the words
    assert turned > plain + 0.3
    # Read back from the model file (int8 rows), it ranks the same.
    assert abs(_first_right(*new, shipped(matrix, "fake")) - turned) <= 1 / 30


def test_the_map_is_read_for_its_own_embedder_only():
    matrix = np.eye(4, dtype=np.float32) * 0.5
    packed = pack(matrix, "fake")
    assert np.allclose(unpack(packed, ("fake", 4)), matrix, atol=0.01)
    assert (
        unpack(packed, ("other", 4)) is None
        and unpack(packed, ("fake", 8)) is None
        and unpack(None, ("fake", 4)) is None
    )
    q = _unit(np.array([1.0, 2.0, 0.0, 0.0]))
    assert np.allclose(adapt(q, None), q)  # no map: the plain cosine
    assert np.linalg.norm(adapt(q, matrix)) == pytest.approx(1.0)


def test_the_answer_path_reads_every_candidate_with_the_models_map(settings, fake_embedder):
    from coach.answer import Coach
    from coach.index import build_index, load_index
    from coach.model import load_model

    build_index(settings, fake_embedder)
    index = load_index(settings, fake_embedder.model_id)
    model = load_model()
    col, dense = CANDIDATE_FEATURES.index("dense_adapted"), CANDIDATE_FEATURES.index("dense")
    # The shipped map was made for the real embedder: with the fake one the column is the plain cosine.
    plain = Coach(index, fake_embedder, None, model).analyze("What does a typical day look like?", [])
    assert np.allclose(plain.rows[:, col], plain.rows[:, dense])
    rng = np.random.default_rng(1)
    matrix = rng.normal(scale=0.3, size=(fake_embedder.dimension, fake_embedder.dimension)).astype(np.float32)
    own = model.model_copy(update={"adapter": pack(matrix, fake_embedder.model_id)})
    coach = Coach(index, fake_embedder, None, own)
    a = coach.analyze("What does a typical day look like?", [])
    turned = adapt(a.qvec, coach.adapter())
    for c, row in zip(a.candidates, a.rows, strict=True):
        uvec = index.unit_vectors[index.unit_start[c.passage] + c.unit].astype(np.float32)
        assert row[col] == pytest.approx(float(uvec @ turned), abs=1e-5)
    assert not np.allclose(a.rows[:, col], a.rows[:, dense])


def test_the_abstention_reads_how_close_the_turned_question_comes_to_any_candidate(settings, fake_embedder):
    """``top_adapted``: a question no unit answers stays far from all of them once turned, so the
    abstention reads the closest candidate to the turned question, whichever is ranked first."""
    from coach.answer import Coach
    from coach.features import QUESTION_FEATURES
    from coach.index import build_index, load_index
    from coach.model import load_model

    build_index(settings, fake_embedder)
    index = load_index(settings, fake_embedder.model_id)
    rng = np.random.default_rng(2)
    matrix = rng.normal(scale=0.3, size=(fake_embedder.dimension, fake_embedder.dimension)).astype(np.float32)
    model = load_model().model_copy(update={"adapter": pack(matrix, fake_embedder.model_id)})
    col = CANDIDATE_FEATURES.index("dense_adapted")
    closest_not_first = 0
    for q in ["What does a typical day look like?", "How much do these techs make?", "Is HIPAA training required?"]:
        a = Coach(index, fake_embedder, None, model).analyze(q, [])
        assert a.qrow[QUESTION_FEATURES.index("top_adapted")] == pytest.approx(float(a.rows[:, col].max()))
        assert a.qrow_first[QUESTION_FEATURES.index("top_adapted")] == pytest.approx(float(a.rows[:, col].max()))
        closest_not_first += int(np.argmax(a.rows[:, col])) != 0
    assert closest_not_first  # the column is the closest candidate's, not the first-ranked one's


def test_training_rows_are_read_with_a_map_that_never_saw_their_guide(monkeypatch):
    from coach import train

    rng = np.random.default_rng(2)
    qs, us, ys = _turns(rng, kinds=2, n=12, dim=6)
    guides = ["carpenter", "lifeguard", "plumber"]
    turns = [
        labelled_turn(guides[i % 3], str(i), q, y, uvecs=u.astype(np.float16))
        for i, (q, u, y) in enumerate(zip(qs, us, ys, strict=True))
    ]
    seen: list[tuple[set[str], np.ndarray]] = []
    real_fit = train.fit_adapter

    def spy(q, u, y):  # noqa: ANN001, ANN202
        matrix = real_fit(q, u, y)
        seen.append(({t.guide for t in turns if any(t.qvec is x for x in q)}, matrix))
        return matrix

    monkeypatch.setattr(train, "fit_adapter", spy)
    filled, fitted = train.with_adapted(turns)
    assert fitted is not None and seen[-1][0] == set(guides)  # the shipped map: every guide
    col = CANDIDATE_FEATURES.index("dense_adapted")
    for t in filled:
        # Each guide's rows are read with the map fitted on the other guides (one fold a guide here).
        [(_, without)] = [(g, m) for g, m in seen[:-1] if g == set(guides) - {t.guide}]
        expected = t.uvecs.astype(np.float32) @ adapt(t.qvec, shipped(without, "fake"))
        assert np.allclose(t.rows[:, col], expected, atol=1e-6)


def test_training_reads_a_follow_up_as_serving_does(settings, fake_embedder):
    """The column of a collected row, refilled with a map as ``coach train`` does, equals the
    column serving computed with that map, for a follow-up read with its topic too."""
    from coach import collect, train
    from coach.answer import Coach, history_turn
    from coach.evaluate import EvalTurn
    from coach.index import build_index, load_index
    from coach.model import load_model

    build_index(settings, fake_embedder)
    index = load_index(settings, fake_embedder.model_id)
    rng = np.random.default_rng(3)
    d = fake_embedder.dimension
    fitted = (
        shipped(rng.normal(scale=0.3, size=(d, d)).astype(np.float32), fake_embedder.model_id),
        fake_embedder.model_id,
    )
    model = load_model().model_copy(update={"adapter": pack(*fitted)})
    coach = Coach(index, fake_embedder, None, model)
    history = [history_turn(coach.ask("How much do health information technicians earn?", []))]
    col = CANDIDATE_FEATURES.index("dense_adapted")
    for q, past in (("What does a typical day look like?", []), ("and after 10 years?", history)):
        a = coach.analyze(q, past, full_pool=True)
        data = collect.turn_data("g", "c", len(past), EvalTurn(q=q, expect_any=["x"]), q, a, coach)
        [refilled] = train.adapted([data], fitted)
        assert np.allclose(refilled.rows[:, col], a.rows[:, col], atol=1e-5)
        assert not np.allclose(refilled.rows[:, col], train.adapted([data], None)[0].rows[:, col])
    assert a.res.followup  # the second question was read with its topic
