"""Labelled questions of other guides (coach/examples.py, the ``elsewhere_vote`` abstention feature)."""

from __future__ import annotations

import numpy as np
import pytest

from coach.examples import NO_STANDING, NO_VOTE, Elsewhere, Example, ExampleVectors, logit_standing


def _vec(*xs: float) -> np.ndarray:
    v = np.asarray(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


PAY, WEATHER, LETTER = _vec(1, 0, 0), _vec(0, 1, 0), _vec(0, 0.2, 1)
TEXTS = {"what does it pay?": PAY, "what is the weather in Boston?": WEATHER, "write my resignation letter": LETTER}
EXAMPLES = [
    Example(query="what does it pay?", in_scope=True, guide="Welder Career Overview"),
    Example(query="what is the weather in Boston?", in_scope=False, guide="Welder Career Overview"),
    Example(query="write my resignation letter", in_scope=False, guide="Lifeguard"),
]


def _encode(texts: list[str]) -> np.ndarray:
    return np.vstack([TEXTS[t] for t in texts])


def test_questions_like_those_answered_elsewhere_vote_in_scope_and_requests_vote_out():
    elsewhere = Elsewhere.of(EXAMPLES, None, ("fake", 3), _encode)
    assert elsewhere.vote(_vec(1, 0.1, 0), guide="Electricians") > 0.9  # a pay question
    assert elsewhere.vote(_vec(0.1, 1, 0.3), guide="Electricians") < 0.1  # the weather
    # Nothing close at all: no evidence either way.
    assert elsewhere.vote(_vec(-1, -1, -1), guide="Electricians") == NO_VOTE


def test_a_guides_own_labelled_questions_never_vote_for_it():
    elsewhere = Elsewhere.of(EXAMPLES, None, ("fake", 3), _encode)
    # Asked on the welder guide, only the lifeguard guide's (out-of-scope) example votes.
    assert elsewhere.vote(_vec(1, 0.2, 0.5), guide="  welder career OVERVIEW") == 0.0
    assert Elsewhere.of([], None, ("fake", 3), _encode).vote(PAY, guide="Welder") == NO_VOTE


def test_the_same_question_asked_on_another_guide_is_voted_on_by_that_guides_others():
    elsewhere = Elsewhere.of(EXAMPLES, None, ("fake", 3), _encode)
    question = _vec(1, 0.2, 0.5)
    # Asked on the welder guide first, then on the lifeguard guide: the second vote is not the first's.
    assert elsewhere.vote(question, guide="Welder Career Overview") == 0.0
    assert elsewhere.vote(question, guide="Lifeguard") > 0.5
    assert elsewhere.vote(question, guide="Welder Career Overview") == 0.0


def test_shipped_vectors_are_used_for_their_embedder_only():
    vectors = _encode([e.query for e in EXAMPLES])
    packed = ExampleVectors.pack(vectors, "fake")
    back = packed.unpack(len(EXAMPLES))
    assert back is not None and np.abs(back - vectors).max() < 0.005

    def no_encoding(texts: list[str]) -> np.ndarray:
        raise AssertionError("shipped vectors must not be re-embedded")

    assert np.allclose(Elsewhere.of(EXAMPLES, packed, ("fake", 3), no_encoding).vectors, back)
    # Another embedder (or one that gives the model id of this one but vectors of another size),
    # or damaged data: the questions are embedded again.
    assert np.allclose(Elsewhere.of(EXAMPLES, packed, ("fake", 64), _encode).vectors, vectors)
    assert np.allclose(Elsewhere.of(EXAMPLES, packed, ("other", 3), _encode).vectors, vectors)
    damaged = packed.model_copy(update={"data": packed.data[:-8] + "AAAAAAAA"})
    assert damaged.unpack(len(EXAMPLES)) is None
    assert np.allclose(Elsewhere.of(EXAMPLES, damaged, ("fake", 3), _encode).vectors, vectors)


@pytest.mark.slow
def test_the_answer_path_weighs_the_vote_of_other_guides(real_coach):
    """The shipped model's examples reach the abstention: a pay question is one other guides
    answered, a restaurant tip one like the requests they declined, and the question row carries
    exactly that vote."""
    from coach.features import QUESTION_FEATURES

    col = QUESTION_FEATURES.index("elsewhere_vote")
    title = real_coach.index.passages[0].title
    votes = {}
    for q in ("What does this job pay?", "which pizza place in Chicago is the best?"):
        a = real_coach.analyze(q, [])
        votes[q] = a.qrow[col]
        assert votes[q] == pytest.approx(real_coach.elsewhere().vote(a.qvec, title))
    assert votes["What does this job pay?"] > 0.8 and votes["which pizza place in Chicago is the best?"] < 0.2


def test_a_new_question_is_read_with_what_answered_questions_like_it_on_other_guides():
    """A question like "What is the job outlook?" on a new guide: the answers other guides gave to questions like it
    make the prototype; an example without an answer (out of scope) or of the same guide adds nothing."""
    outlook, growth, pay_row = _vec(1, 0, 0), _vec(0, 1, 0), _vec(0, 0, 1)
    questions = np.vstack([outlook, outlook, outlook, WEATHER])
    answers = np.vstack([growth, pay_row, np.zeros(3), np.zeros(3)]).astype(np.float32)
    guides = ["Welder", "Welder", "Lifeguard", "Lifeguard"]
    elsewhere = Elsewhere(questions, [True, True, False, False], guides, answers)
    proto = elsewhere.answer_prototype(outlook, guide="Electricians")
    assert proto is not None and proto @ growth == pytest.approx(proto @ pay_row) and proto @ growth > 0.4
    # Asked on the welder guide itself, only the lifeguard guide speaks, and it answered nothing.
    assert elsewhere.answer_prototype(outlook, guide="welder") is None
    # A model without answer vectors (or from another embedder) has no prototype.
    assert Elsewhere(questions, [True] * 4, guides).answer_prototype(outlook, guide="Electricians") is None
    packed = ExampleVectors.pack(answers, "fake")
    examples = [Example(query=q, in_scope=True, guide=g) for q, g in zip(TEXTS, ["Welder"] * 3, strict=False)]
    assert Elsewhere.of(examples[:3], None, ("fake", 3), _encode, packed).answers is None  # rows differ: damaged
    assert (
        Elsewhere.of(examples[:3], None, ("other", 3), _encode, ExampleVectors.pack(answers[:3], "fake")).answers
        is None
    )
    same = Elsewhere.of(examples[:3], None, ("fake", 3), _encode, ExampleVectors.pack(answers[:3], "fake"))
    assert same.answers is not None and np.allclose(same.answers, answers[:3], atol=0.01)


def test_a_best_logit_is_read_against_the_logits_that_answered_questions_like_it_elsewhere():
    """A logit of 3 is a sure answer to "is this a good career for me?" (answered near 0 on other
    guides) and a weak one to a pay question (answered near 8); a guide's own examples, and
    examples nothing answered, never count."""
    fit, pay = _vec(1, 0, 0), _vec(0, 1, 0)
    questions = np.vstack([fit, fit, pay, pay, pay, fit])
    guides = ["Welder", "Lifeguard", "Welder", "Lifeguard", "Electricians", "Lifeguard"]
    logits = [0.5, -0.4, 8.0, 7.1, 1.0, 9.0]
    elsewhere = Elsewhere(questions, [True] * 5 + [False], guides, None, [*logits[:5], None])
    usual = elsewhere.usual_logits(fit, guide="Electricians")
    assert usual is not None and sorted(usual[0][usual[1] > 0]) == [-0.4, 0.5]  # the unanswered one has no logit
    assert logit_standing(3.0, usual) == pytest.approx(1.0)
    assert logit_standing(3.0, elsewhere.usual_logits(pay, guide="Electricians")) == pytest.approx(0.0)
    assert 0.0 < logit_standing(7.5, elsewhere.usual_logits(pay, guide="Electricians")) < 1.0
    # On the electrician guide itself its own pay example (logit 1.0) is not among them.
    assert 1.0 not in elsewhere.usual_logits(pay, guide="electricians")[0].tolist()
    # Nothing to compare with: no answered example of another guide, or no cross-encoder.
    assert Elsewhere(questions, [True] * 6, guides).usual_logits(fit, guide="Welder") is None
    assert logit_standing(3.0, None) == NO_STANDING
    kept = Elsewhere.of(
        [Example(query=q, in_scope=True, guide="Welder", logit=2.5) for q in TEXTS], None, ("fake", 3), _encode
    )
    assert kept.usual_logits(PAY, guide="Lifeguard")[0].tolist() == [2.5, 2.5, 2.5]


@pytest.mark.slow
def test_the_answer_path_weighs_its_best_logit_against_other_guides(real_coach):
    """The shipped model's answered examples carry their logits, and the question row's
    ``logit_standing`` is the best unit's logit (the pool as the plain ranker orders it) read
    against the logits that answered the closest questions of other guides."""
    from coach.features import CANDIDATE_FEATURES, QUESTION_FEATURES

    assert sum(e.logit is not None for e in real_coach.model.examples) > 500
    col, logit = QUESTION_FEATURES.index("logit_standing"), CANDIDATE_FEATURES.index("logit")
    title = real_coach.index.passages[0].title
    seen = []
    for q in ("What does this job pay?", "Is this a good career for me?", "which pizza place in Chicago is the best?"):
        a = real_coach.analyze(q, [])
        plain = real_coach.model.plain_ranker.decision(a.rows, CANDIDATE_FEATURES)
        top = float(a.rows[int(np.argmax(plain)), logit])
        usual = real_coach.elsewhere().usual_logits(a.qvec, title)
        assert usual is not None and a.qrow[col] == pytest.approx(logit_standing(top, usual))
        seen.append(a.qrow[col])
    assert seen[-1] < 0.2  # the pizza question's best logit is below what answered questions like it


@pytest.mark.slow
def test_the_answer_path_reads_each_unit_against_the_answers_of_other_guides(real_coach):
    """The shipped model carries its examples' answer vectors, and every candidate's ``answer_like``
    is its unit vector against the prototype of the other guides' answers (that a guide's own
    examples never count: the tests above)."""
    from coach.features import CANDIDATE_FEATURES

    col = CANDIDATE_FEATURES.index("answer_like")
    ix = real_coach.index
    title = ix.passages[0].title
    a = real_coach.analyze("What is the job outlook?", [])
    proto = real_coach.elsewhere().answer_prototype(a.qvec, title)
    assert proto is not None
    for c, row in zip(a.candidates, a.rows, strict=True):
        uvec = ix.unit_vectors[ix.unit_start[c.passage] + c.unit].astype(np.float32)
        assert row[col] == pytest.approx(float(proto @ uvec), abs=1e-5)
    # The outlook figure reads more like the other guides' outlook answers than most candidates do.
    likes = {c.get(ix).text: row[col] for c, row in zip(a.candidates, a.rows, strict=True)}
    outlook = max(v for t, v in likes.items() if "7%" in t)
    assert outlook > np.median(list(likes.values()))
