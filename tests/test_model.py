"""The answer model: features, fitting, thresholds from held-out guides, the model file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from coach.collect import TurnData
from coach.features import (
    CANDIDATE_FEATURES,
    HAS,
    QUESTION_FEATURES,
    asked_extreme,
    asked_types,
    candidate_row,
    names,
    pool_relative,
    question_row,
    subject_weights,
    table_ends,
    without_readers,
)
from coach.model import AnswerModel, Linear, Trees, load_model
from coach.train import choose_abstain_cut, fit_model, write_model


@pytest.mark.parametrize(
    "text",
    ["The median wage was $47,190 in May 2023.", "£35,000 to £45,000 a year", "€250 per day", "about 30 an hour",
     "Rs. 150,000 per month", "from 60k USD"],
)  # fmt: skip
def test_amounts_in_any_currency_count_as_pay(text):
    assert HAS["amount"](text)


def test_a_sentence_without_an_amount_is_not_pay():
    assert not HAS["amount"]("Pay depends on experience and location.")
    assert HAS["duration"]("The program takes 2-4 years.") and not HAS["duration"]("It is a long program.")


def test_what_a_question_asks_for():
    assert asked_types("How much do these techs make?") == ["amount"]
    assert "duration" in asked_types("how long does the apprenticeship take?")
    assert names("what do electricians earn in Texas or the UK?") == ["texas", "uk"]
    assert names("what's the salary for a ux designer in the US?") == ["us"]  # an acronym, not the pronoun


def test_which_end_of_a_table_a_question_asks_for():
    assert asked_extreme("which industry pays the most?") == 1
    assert asked_extreme("which of those pays the best?") == 1
    assert asked_extreme("and the lowest paid ones?") == -1
    assert asked_extreme("what do electricians earn?") == 0
    assert asked_extreme("which pays the most and which the least?") == 0  # both ends: neither column
    # An end of a table's figures only when the question asks for a value.
    for q in ["what's the most important skill?", "what is the best way in?", "which school is best?",
              "where do most accountants work?", "do I need at least a degree?"]:  # fmt: skip
        assert asked_extreme(q) == 0, q


def test_the_rows_at_each_end_of_a_tables_figures():
    pay = [["Outpatient care centers", "$47,560"], ["Hospitals; state, local, and private", "45,930"],
           ["Offices of physicians", "43,880"], ["Offices of other health practitioners", "37,510"]]  # fmt: skip
    assert table_ends(pay) == [(True, False), (False, False), (False, False), (False, True)]
    # The figure column is the last one at least half the rows fill; a row without a figure has no end.
    similar = [["Dental Assistants", "provide patient care", "Postsecondary nondegree award", "$47,300"],
               ["Dental Hygienists", "examine patients", "Associate's degree", "$94,260"],
               ["Nursing Assistants", "provide basic care", "See How to Become One", "$39,430"],
               ["Medical Scribes", "take notes", "High school diploma", "-"]]  # fmt: skip
    assert table_ends(similar) == [(False, False), (True, False), (False, True), None]
    assert table_ends([["Level", "Entry"], ["Level", "Senior"]]) == [None, None]  # no figures: no ends
    # A header read as a row names a year, not a figure; a fall is below zero.
    growth = [["Occupation", "2024-34 EMPLOYMENT CHANGE"], ["Machinists", "-11%"], ["Welders", "2%"], ["All", "0%"]]
    assert table_ends(growth) == [None, (False, True), (True, False), (False, False)]
    # Quick facts mix pay, counts and shares in one column: no end means anything there.
    facts = [["2024 Median Pay", "$137,480 per year"], ["Number of Jobs, 2024", "334,900"],
             ["Job Outlook, 2024-34", "5% (As fast as average)"], ["Work Experience", "None"]]  # fmt: skip
    assert table_ends(facts) == [None] * 4
    assert table_ends([["Junior", "$47k USD"], ["Manager", "$110k USD"], ["Senior", "$75,500"]])[1] == (True, False)
    col = CANDIDATE_FEATURES.index
    top = _row("Outpatient care centers | $47,560", ["industry"], extreme=1, ends=(True, False))
    other = _row("Offices of physicians | 43,880", ["industry"], extreme=1, ends=(False, False))
    plain = _row("Offices of physicians | 43,880", ["industry"], ends=(False, False))  # the question asks for no end
    assert (top[col("extreme_fit")], top[col("extreme_other")]) == (1.0, 0.0)
    assert (other[col("extreme_fit")], other[col("extreme_other")]) == (0.0, 1.0)
    assert plain[col("extreme_fit")] == plain[col("extreme_other")] == 0.0


def _row(
    text: str, question_subject: list[str], logit: float | None = None, dense: float = 0.5, late: float = 0.0,
    late_passage: float | None = None, wanted: tuple[str, ...] = ("amount",), extreme: int = 0,
    ends: tuple[bool, bool] | None = None,
) -> list[float]:  # fmt: skip
    return candidate_row(
        unit_text=text, context=f"Guide > Pay: {text}", kind="sentence", unit_pos=1, heading="Pay",
        heading_sim=0.3, after_question_sim=0.0, dense=dense, dense_alone=dense, answer_like=0.0, bm25=0.5, passage_rank=0,
        logit=logit, late=late, late_passage=late_passage, late_cover=1.0, qstems=set(), subject=subject_weights(question_subject),
        qnames=[],
        wanted=list(wanted), focus=0.0, repeat=False, after_quoted=0.0, extreme=extreme, ends=ends,
    )  # fmt: skip


def test_a_unit_that_misses_the_questions_subject_says_so():
    col = CANDIDATE_FEATURES.index
    about_techs = _row("Pharmacy technicians earn $40,300 a year.", ["pharmacists"])
    about_them = _row("Pharmacists earn $132,750 a year.", ["pharmacists"])
    assert about_techs[col("subject_in_unit")] == 0.0 and about_techs[col("rare_missing")] > 0.0
    assert about_them[col("subject_in_unit")] == 1.0 and about_them[col("rare_missing")] == 0.0


def test_pool_columns_compare_with_the_pool_being_ranked():
    col = CANDIDATE_FEATURES.index
    rows = np.asarray([
        _row("A $1.", [], logit=2.0, dense=0.6, late=0.5, late_passage=0.7),
        _row("B $2.", [], logit=-1.0, dense=0.4, late=0.75, late_passage=0.5),
    ])  # fmt: skip
    pool_relative(rows, has_logits=True)
    assert rows[:, col("logit_gap")].tolist() == [0.0, -3.0] and rows[:, col("logit_top")].tolist() == [1.0, 0.0]
    assert rows[1, col("dense_gap")] == pytest.approx(-0.2)
    assert rows[:, col("late_gap")].tolist() == [-0.25, 0.0]
    assert rows[:, col("late_passage_gap")].tolist() == pytest.approx([0.0, -0.2])
    # Only the second candidate kept: it is now the best of its pool.
    kept = pool_relative(rows[1:].copy(), has_logits=True)
    assert kept[0, col("logit_gap")] == 0.0 and kept[0, col("dense_gap")] == 0.0
    assert kept[0, col("late_passage_gap")] == 0.0
    # The path without the cross-encoder and late reader sees neither's scores.
    bare = without_readers(rows)
    assert not bare[:, [col(f) for f in CANDIDATE_FEATURES if f.startswith(("logit", "late"))]].any()


def test_a_pay_question_no_candidate_answers_with_an_amount_says_so():
    """A pay question on a guide that names no pay ("What does this job pay?"): the abstention model sees that
    no candidate holds an amount, not only that the best one lacks it."""

    def qrow(texts: list[str], wanted: tuple[str, ...] = ("amount",)) -> dict[str, float]:
        rows = np.asarray([_row(t, ["job"], wanted=wanted) for t in texts])
        values = question_row(
            scores=np.arange(len(texts), 0, -1, dtype=float), rows=rows, unknown=[], subject=["job"],
            unknown_gain=0.0, unknown_names=0.0, wanted=list(wanted), followup=False, cover=0.0, vote=0.5, prior=0.0,
        )  # fmt: skip
        return dict(zip(QUESTION_FEATURES, values, strict=True))

    no_pay = qrow(["Pay depends on the employer.", "Most work full time."])
    pay_second = qrow(["Pay depends on the employer.", "The median wage was $47,190."])
    assert no_pay["top_type_missing"] == 1.0 and no_pay["pool_type_missing"] == 1.0
    assert pay_second["top_type_missing"] == 1.0 and pay_second["pool_type_missing"] == 0.0
    # Nothing asked for: nothing can be missing.
    assert qrow(["Most work full time."], wanted=())["pool_type_missing"] == 0.0
    # "How many years...?" asks for a number and a duration: a count of people is no duration.
    years = qrow(["About 12,000 people work in this job."], wanted=("number", "duration"))
    assert years["pool_type_missing"] == 1.0
    assert qrow(["The program takes 2 years."], wanted=("number", "duration"))["pool_type_missing"] == 0.0


def _turn(guide: str, rng: np.random.Generator, abstain: bool) -> TurnData:
    """A synthetic turn: the answer has the highest logit (and a high dense cosine, which the
    first stage sees) unless the question is out of scope."""
    n = 12
    rows = rng.normal(size=(n, len(CANDIDATE_FEATURES)))
    labels = np.zeros(n, dtype=bool)
    logit, dense = CANDIDATE_FEATURES.index("logit"), CANDIDATE_FEATURES.index("dense")
    rows[:, logit] = rng.normal(-3, 1, n)
    if not abstain:
        k = int(rng.integers(n))
        labels[k] = True
        rows[k, logit] = rng.normal(4, 1)
        rows[k, dense] = rng.normal(3, 0.5)
    return TurnData(
        guide=guide, conv="c", turn=0, abstain=abstain, rows=rows, labels=labels, words=[10] * n,
        texts=[f"unit {k}" for k in range(n)], unknown=[], subject=["pay"], gain=0.0, unknown_names=0.0,
        wanted=[], followup=False, reranked=True,
    )  # fmt: skip


def test_fitting_learns_the_signal_and_abstains_on_held_out_oos():
    rng = np.random.default_rng(0)
    turns = [_turn(g, rng, abstain=(k % 5 == 0)) for g in "abcd" for k in range(40)]
    model = fit_model(turns)
    assert model.ranker.coef[model.ranker.features.index("logit")] > 0
    # Late-interaction scores choose the answer; the abstention reads the pool ranked without them.
    assert "late" in model.ranker.features and "late_passage" in model.ranker.features
    assert not any(f.startswith("late") for f in model.plain_ranker.features)
    assert "late" in model.first.features and "late_passage" not in model.first.features
    assert not any(f.startswith(("late", "logit")) for f in model.first_plain.features)
    assert model.report["false_abstention"] <= 0.05
    assert model.report["oos_abstention"] >= 0.9 and model.report["top1_right"] >= 0.95


def test_abstain_cut_keeps_false_abstention_within_target():
    class R:  # the fields choose_abstain_cut reads
        def __init__(self, abstain: bool) -> None:
            self.turn = type("T", (), {"abstain": abstain})()

    ranked = [R(False) for _ in range(100)] + [R(True) for _ in range(10)]
    p = np.concatenate([np.linspace(0.2, 1.0, 100), np.full(10, 0.1)])
    cut = choose_abstain_cut(ranked, p, target=0.05)
    assert np.sum(p[:100] < cut) <= 5 and np.all(p[100:] < cut)


def test_model_file_round_trip_and_clear_errors(tmp_path):
    from coach.errors import ModelError

    shipped = load_model()
    assert shipped.ranker.features and set(shipped.answerable.features) <= set(QUESTION_FEATURES)
    assert shipped.trained_on, "the shipped model names the sets it was fitted on"
    path = tmp_path / "m.json"
    write_model(shipped, path)
    again = AnswerModel.model_validate_json(path.read_text())
    x = np.ones((2, len(CANDIDATE_FEATURES)))
    assert np.allclose(again.ranker.decision(x, CANDIDATE_FEATURES), shipped.ranker.decision(x, CANDIDATE_FEATURES))
    q = np.ones((2, len(QUESTION_FEATURES)))
    assert np.allclose(again.answerable.proba(q, QUESTION_FEATURES), shipped.answerable.proba(q, QUESTION_FEATURES))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ModelError, match="damaged"):
        load_model(str(bad))
    old = json.loads(path.read_text())
    old["version"] = 0
    bad.write_text(json.dumps(old))
    with pytest.raises(ModelError, match="version"):
        load_model(str(bad))


def test_linear_model_uses_named_columns():
    lin = Linear(features=["b"], mean=[1.0], scale=[2.0], coef=[3.0], intercept=0.5)
    assert lin.decision(np.array([[100.0, 5.0]]), ["a", "b"])[0] == pytest.approx(0.5 + 3.0 * (5.0 - 1.0) / 2.0)


def test_evidence_weighed_against_its_sign_is_dropped():
    """The logistic comparator of the benchmarks (``answerable_learners.py``, ``nested_replay.py``):
    a better match may only raise P(in scope); a sample where it "lowers" it does not teach that."""
    from coach.features import EVIDENCE_SIGN
    from coach.train import fit_linear

    rng = np.random.default_rng(0)
    y = rng.random(400) < 0.6
    logit = np.where(y, 2.0, -2.0) + rng.normal(0, 1, 400)  # real evidence, the right way
    dense = np.where(y, -0.2, 0.2) + rng.normal(0, 0.1, 400)  # an accident of the sample, the wrong way
    x = np.column_stack([logit, dense])
    free = fit_linear(x, y, ["top_logit", "top_dense"], ["top_logit", "top_dense"])
    signed = fit_linear(x, y, ["top_logit", "top_dense"], ["top_logit", "top_dense"], EVIDENCE_SIGN)
    assert free.coef[1] < 0  # unconstrained, the fit would use it
    assert signed.coef[0] > 0 and signed.coef[1] == 0.0


def test_a_fit_started_from_a_nearby_fit_reaches_the_same_weights():
    """``coach train`` fits each guide's rankers without it starting from the fit on all guides
    (``fit_linear``'s ``start``): the same ranker as a fit from zero, so the replay the cuts are
    chosen on does not depend on it."""
    from coach.train import _restandardised, fit_linear

    rng = np.random.default_rng(1)
    x = rng.normal(size=(3000, 3)) * [1.0, 5.0, 0.2] + [0.0, 10.0, -1.0]
    y = (x @ [1.0, 0.3, -4.0] + rng.logistic(size=3000)) > 3.0
    cols = ["a", "b", "c"]
    everything = fit_linear(x, y, cols, cols)
    rest = slice(300, None)  # one "guide" left out
    cold = fit_linear(x[rest], y[rest], cols, cols)
    warm = fit_linear(x[rest], y[rest], cols, cols, start=everything)
    # The start is the all-rows fit itself, re-expressed in the subset's standardisation.
    mean, scale = np.asarray(cold.mean), np.asarray(cold.scale)
    coef, intercept = _restandardised(everything, mean, scale)
    moved = Linear(features=cols, mean=list(mean), scale=list(scale), coef=list(coef), intercept=intercept)
    assert moved.decision(x, cols) == pytest.approx(everything.decision(x, cols), abs=1e-6)
    # Equal within the solver's tolerance (scikit-learn's lbfgs stops at a gradient of 1e-4).
    assert warm.coef == pytest.approx(cold.coef, abs=5e-3)
    assert warm.intercept == pytest.approx(cold.intercept, abs=5e-3)
    assert warm.decision(x[:300], cols) == pytest.approx(cold.decision(x[:300], cols), abs=2e-2)


def test_abstention_trees_follow_the_evidence_and_match_scikit_learn():
    """More of a better match never lowers P(in scope), even where the sample says otherwise; and the
    trees written to the model file give scikit-learn's own predictions."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from coach.features import EVIDENCE_SIGN
    from coach.train import TREES, fit_trees

    rng = np.random.default_rng(0)
    y = rng.random(600) < 0.6
    logit = np.where(y, 2.0, -2.0) + rng.normal(0, 1, 600)
    dense = np.where(y, -0.2, 0.2) + rng.normal(0, 0.1, 600)  # an accident of the sample, the wrong way
    x = np.column_stack([logit, dense])
    names = ["top_logit", "top_dense"]
    free, signed = fit_trees(x, y, names), fit_trees(x, y, names, EVIDENCE_SIGN)
    grid = np.column_stack([np.zeros(50), np.linspace(-0.6, 0.6, 50)])
    assert np.diff(free.proba(grid, names)).min() < 0  # unconstrained, the fit would use it
    assert np.diff(signed.proba(grid, names)).min() >= 0
    assert np.diff(signed.proba(grid[:, ::-1], names)).min() >= 0  # and more logit only raises it
    clf = HistGradientBoostingClassifier(**TREES, monotonic_cst=[1, 1], early_stopping=False, random_state=0)
    clf.fit(x, y.astype(int))
    assert np.allclose(signed.proba(x, names), clf.predict_proba(x)[:, 1], atol=1e-6)
    again = Trees.model_validate_json(signed.model_dump_json())
    assert np.allclose(again.proba(x[:, ::-1], names[::-1]), signed.proba(x, names))  # columns by name


def test_the_model_keeps_its_labelled_questions_and_votes_from_other_guides_only():
    from coach.train import with_votes

    rng = np.random.default_rng(3)
    ask, other = np.asarray([1.0, 0.0], dtype=np.float32), np.asarray([0.6, 0.8], dtype=np.float32)

    def turn(guide: str, k: int) -> TurnData:
        t = _turn(guide, rng, abstain=(k % 5 == 0))
        vec = ask if t.abstain else other
        return t.model_copy(update={"searched": f"{guide} q{k}", "qvec": vec, "title": guide.upper(), "embedder": "e"})

    turns = [turn(g, k) for g in "abc" for k in range(10)]
    # Alone, a guide's turns have no other guide to hear from.
    assert {t.vote for t in with_votes(turns[:10])} == {0.5}
    voted = with_votes(turns)
    assert all(t.vote < 0.5 for t in voted if t.abstain) and all(t.vote > 0.5 for t in voted if not t.abstain)
    model = fit_model(turns)
    assert [e.query for e in model.examples] == [t.searched for t in turns]
    assert model.example_vectors is not None and model.example_vectors.embedder == "e"
    assert np.allclose(model.example_vectors.unpack(len(turns)), [t.qvec for t in turns], atol=0.01)


def test_a_best_logit_is_weighed_against_the_logits_that_answered_other_guides_questions():
    """``logit_standing``: the model keeps the logit of each answered example's right unit; a
    guide's turns are read against the other guides' logits only, and the question row says
    how many of them its best unit reaches."""
    from coach.train import answer_logit, with_votes

    rng = np.random.default_rng(4)
    vec = np.asarray([1.0, 0.0], dtype=np.float32)

    logit = CANDIDATE_FEATURES.index("logit")

    def turn(guide: str, k: int) -> TurnData:
        t = _turn(guide, rng, abstain=(k % 5 == 0))
        # Each answer's logit is its own (no two guides share one), so "none of its own" is checkable by value.
        t.rows[t.labels, logit] = 3.0 + "abc".index(guide) + k / 100
        return t.model_copy(update={"searched": f"{guide} q{k}", "qvec": vec, "title": guide, "embedder": "e"})

    turns = [turn(g, k) for g in "abc" for k in range(10)]
    model = fit_model(turns)
    for e, t in zip(model.examples, turns, strict=True):
        assert (e.logit is None) == t.abstain
        assert t.abstain or e.logit == pytest.approx(t.rows[t.labels, logit].max(), abs=1e-3)
    voted = with_votes(turns)
    own = {g: {answer_logit(t) for t in turns if t.guide == g and not t.abstain} for g in "abc"}
    for t in voted:  # 16 answered examples of the two other guides, none of its own
        assert t.usual is not None and len(t.usual[0]) == 16 and not own[t.guide] & set(t.usual[0].tolist())
    row = lambda top: question_row(  # noqa: E731
        scores=np.asarray([1.0]), rows=np.asarray([_row("It pays well.", ["pay"], logit=top)]), unknown=[],
        subject=["pay"], unknown_gain=0.0, unknown_names=0.0, wanted=[], followup=False, cover=1.0, vote=0.5, prior=0.0,
        usual=voted[0].usual,
    )[QUESTION_FEATURES.index("logit_standing")]  # fmt: skip
    assert row(-20.0) == 0.0 and row(20.0) == pytest.approx(1.0) and 0.0 < row(4.5) < 1.0
    # Training reads it as serving does: the best unit of the pool as the plain ranker orders it.
    from coach.examples import logit_standing
    from coach.train import Rankers, _pool_rows, rank_turn

    rankers = Rankers(model.first, model.first_plain, model.ranker, model.plain_ranker)
    col = QUESTION_FEATURES.index("logit_standing")
    for t in voted[:5]:
        r = rank_turn(t, rankers, model.thresholds.pool)
        pool = r.order  # the kept pool, in ranker order
        plain = model.plain_ranker.decision(_pool_rows(t, pool), CANDIDATE_FEATURES)
        top = t.rows[pool[int(np.argmax(plain))], logit]
        assert r.qrow[col] == pytest.approx(logit_standing(top, t.usual))
        assert r.qrow_first[col] == 0.5  # the path without the cross-encoder has nothing to compare


def test_a_unit_like_what_answered_similar_questions_elsewhere_is_marked_from_other_guides_only():
    """``answer_like``: a guide's turns read the answers of the other guides' similar questions, never
    their own, and the model ships the answer vectors it fitted with."""
    from coach.train import with_votes

    rng = np.random.default_rng(5)
    q = np.asarray([1.0, 0.0, 0.0], dtype=np.float32)
    like = CANDIDATE_FEATURES.index("answer_like")

    def turn(guide: str, k: int) -> TurnData:
        t = _turn(guide, rng, abstain=(k % 5 == 0))
        uvecs = np.tile(np.asarray([0.0, 0.0, 1.0], dtype=np.float16), (len(t.rows), 1))
        uvecs[t.labels] = np.asarray([0.0, 1.0, 0.0], dtype=np.float16)  # every guide's answers read alike
        return t.model_copy(
            update={"searched": f"{guide} q{k}", "qvec": q, "title": guide.upper(), "embedder": "e", "uvecs": uvecs}
        )

    turns = [turn(g, k) for g in "abc" for k in range(10)]
    alone = with_votes(turns[:10])
    assert not any(t.rows[:, like].any() for t in alone)  # no other guide: nothing to read like
    for t in with_votes(turns):
        if t.labels.any():
            assert t.rows[t.labels, like].min() > 0.9 and t.rows[~t.labels, like].max() < 0.1
    model = fit_model(turns)
    assert model.answer_vectors is not None and model.answer_vectors.embedder == "e"
    # The question prior (``coach.prior``) ships for the embedder of the training vectors.
    assert model.question_prior is not None and model.question_prior.embedder == "e"
    shipped = model.answer_vectors.unpack(len(turns))
    assert shipped is not None and np.allclose(shipped[[t.labels.any() for t in turns]], [0.0, 1.0, 0.0], atol=0.01)
    assert not shipped[[t.abstain for t in turns]].any()
